"""Fitness wiring: trackers reach the routers that use them with each user's weight, a reload
keeps unchanged trackers running with their state, and a sync group pools its trackers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from driver_fake import FakeDriver

from vipguard.agent.fitness import PREFIX, Fitness, group_refs
from vipguard.config import TrackRef, parse

BASE = """
[[instance]]
name = "front"
interface = "eth0"
vrid = 51
vips = ["192.0.2.100/24"]
track = {front_track}

[[instance]]
name = "back"
interface = "eth1"
vrid = 52
vips = ["198.51.100.100/24"]
{back_track}
"""


def config_text(tmp_path: Path, trackers: str, front: str, back: str = "") -> str:
    return trackers + BASE.format(front_track=front, back_track=back)


def trackers(tmp_path: Path, drain_interval: str = "1s") -> str:
    return f"""
[[tracker]]
name = "drain"
file = "{tmp_path / "drain"}"
interval = "{drain_interval}"
weight = -1

[[tracker]]
name = "proxy"
tcp = "127.0.0.1:9"
"""


def configure(fitness: Fitness, text: str, drivers: dict[str, FakeDriver]) -> tuple[Any, Any]:
    config = parse(text)
    refs = group_refs(config)
    return fitness.configure(config, {d: refs[name] for name, d in drivers.items()})  # type: ignore[misc]


def test_users_get_their_own_weights_and_no_result_counts_as_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        fitness = Fitness()
        drivers = {"front": FakeDriver("front"), "back": FakeDriver("back")}
        text = config_text(
            tmp_path, trackers(tmp_path), '["proxy", { tracker = "drain", weight = -5 }]'
        )
        started, stopped = configure(fitness, text, drivers)
        assert sorted(t.name for t in started) == ["drain", "proxy"] and stopped == []
        assert drivers["front"].tracked == {}  # nothing until a first result, or until
        fitness.apply_pending()  # the runtime gives up waiting: no result counts as down
        # proxy (weight 0) without a result: fault; drain without a result: down, adds nothing
        assert drivers["front"].tracked == {
            PREFIX + "proxy": (0, True),
            PREFIX + "drain": (0, False),
        }
        assert drivers["back"].tracked == {}
        lines = fitness.describe(drivers["front"])  # type: ignore[arg-type]
        assert [(line["name"], line["weight"], line["fault"]) for line in lines] == [
            ("drain", -5, False),
            ("proxy", 0, True),
        ]

    asyncio.run(scenario())


def test_a_reload_keeps_unchanged_trackers_restarts_changed_and_untracks_removed(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        fitness = Fitness()
        drivers = {"front": FakeDriver("front"), "back": FakeDriver("back")}
        first = config_text(tmp_path, trackers(tmp_path), '["proxy", "drain"]')
        configure(fitness, first, drivers)
        proxy, drain = fitness.trackers["proxy"], fitness.trackers["drain"]
        second = config_text(tmp_path, trackers(tmp_path, drain_interval="2s"), '["proxy"]')
        started, stopped = configure(fitness, second, drivers)
        assert fitness.trackers["proxy"] is proxy  # unchanged: kept, with its state
        assert started == [fitness.trackers["drain"]] and stopped == [drain]  # changed
        assert PREFIX + "drain" not in drivers["front"].tracked  # no longer used by front
        assert PREFIX + "proxy" in drivers["front"].tracked

    asyncio.run(scenario())


def test_a_sync_group_pools_its_members_trackers(tmp_path: Path) -> None:
    group = '\n[[sync_group]]\nname = "lb"\ninstances = ["front", "back"]\n'
    text = config_text(
        tmp_path, trackers(tmp_path), '[{ tracker = "drain", weight = -7 }]', 'track = ["proxy"]'
    )
    refs = group_refs(parse(text + group))
    assert refs["front"] == (TrackRef("drain", -7), TrackRef("proxy", 0))
    assert refs["back"] == (TrackRef("proxy", 0), TrackRef("drain", -7))
    assert group_refs(parse(text))["back"] == (TrackRef("proxy", 0),)  # no group: its own only


def test_a_changed_tracker_keeps_its_previous_effect_until_its_first_result(
    tmp_path: Path,
) -> None:
    def uplink(weight: int) -> str:
        return f'[[tracker]]\nname = "uplink"\ninterface = "eth9"\nweight = {weight}\n'

    async def scenario() -> None:
        fitness = Fitness()
        drivers = {"front": FakeDriver("front"), "back": FakeDriver("back")}
        configure(fitness, config_text(tmp_path, uplink(0), '["uplink"]'), drivers)
        fitness.trackers["uplink"].set_link(True)  # its first result: up
        assert drivers["front"].tracked[PREFIX + "uplink"] == (0, False)
        configure(fitness, config_text(tmp_path, uplink(-10), '["uplink"]'), drivers)
        # Replaced (its weight changed): no result yet, but no transient fault either.
        assert drivers["front"].tracked[PREFIX + "uplink"] == (0, False)
        fitness.apply_pending()  # no result within its timeout: now it counts as down
        assert drivers["front"].tracked[PREFIX + "uplink"] == (-10, False)

    asyncio.run(scenario())
