"""The event bus: stamped events in order, bounded subscribers, replay of the recent past, and
the ``events`` control command end to end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from vipguard.agent.control import ControlServer, Stream
from vipguard.agent.events import EventBus, Subscription, events_handler
from vipguard.control_client import stream

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 10)

    return asyncio.run(bounded())


async def take(subscription: Subscription, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(anext(subscription), 2) for _ in range(count)]


async def rest(subscription: Subscription) -> list[dict[str, Any]]:
    """What is left of a closed subscription (bounded: it must end)."""

    async def drain() -> list[dict[str, Any]]:
        return [event async for event in subscription]

    return await asyncio.wait_for(drain(), 2)


def ticking() -> Callable[[], float]:
    counter = itertools.count(1000)
    return lambda: float(next(counter))


def test_events_are_stamped_in_order_and_a_stamp_wins_over_a_field() -> None:
    bus = EventBus(clock=ticking())
    first = bus.publish("state_changed", instance="web", old="backup", new="master")
    second = bus.publish("hook_finished", seq=99, event="forged", instance="web")
    assert first == {
        "seq": 1,
        "time": 1000.0,
        "event": "state_changed",
        "instance": "web",
        "old": "backup",
        "new": "master",
    }
    assert list(second) == ["seq", "time", "event", "instance"]
    assert (second["seq"], second["event"]) == (2, "hook_finished")
    assert bus.last_seq == 2
    assert bus.recent == [first, second]


def test_every_subscriber_gets_every_event_in_publish_order() -> None:
    async def scenario() -> None:
        bus = EventBus()
        one, two = bus.subscribe(), bus.subscribe()
        published = [bus.publish("tick", n=n)["seq"] for n in range(50)]
        assert [e["seq"] for e in await take(one, 50)] == published
        assert [e["n"] for e in await take(two, 50)] == list(range(50))

    run(scenario)


def test_a_waiting_subscriber_wakes_on_publish() -> None:
    async def scenario() -> None:
        bus = EventBus()
        subscription = bus.subscribe()
        waiting = asyncio.ensure_future(anext(subscription))
        await asyncio.sleep(0)
        assert not waiting.done()
        bus.publish("tick")
        assert (await asyncio.wait_for(waiting, 2))["event"] == "tick"

    run(scenario)


def test_a_subscriber_that_falls_behind_gets_overflow_and_is_closed() -> None:
    async def scenario() -> None:
        bus = EventBus(queue_limit=3)
        slow, fast = bus.subscribe(), bus.subscribe()
        for n in range(5):
            bus.publish("tick", n=n)
            await take(fast, 1)  # keeps up
        events = await rest(slow)
        assert [e.get("n") for e in events] == [0, 1, 2, None]
        overflow = events[-1]
        assert overflow["event"] == "overflow"
        assert overflow["missed_seq"] == 4
        assert overflow["queue_limit"] == 3
        assert slow.overflowed and slow.closed
        assert bus.subscribers == 1  # the fast one is untouched
        bus.publish("tick", n=5)
        assert (await take(fast, 1))[0]["n"] == 5

    run(scenario)


def test_publish_never_grows_a_stuck_subscriber_beyond_its_bound() -> None:
    async def scenario() -> None:
        bus = EventBus(queue_limit=10)
        stuck = bus.subscribe()
        for n in range(10_000):
            bus.publish("tick", n=n)
        assert stuck.pending == 11  # ten events and the overflow notice
        assert bus.subscribers == 0

    run(scenario)


def test_unsubscribe_ends_a_waiting_iteration_and_stops_delivery() -> None:
    async def scenario() -> None:
        bus = EventBus()
        subscription = bus.subscribe()
        bus.publish("before")
        waiting = asyncio.ensure_future(rest(subscription))
        await asyncio.sleep(0)
        bus.unsubscribe(subscription)
        bus.publish("after")
        assert [e["event"] for e in await waiting] == ["before"]
        assert bus.subscribers == 0
        assert await rest(subscription) == []  # stays ended

    run(scenario)


def test_backlog_replays_the_recent_events_then_goes_live_without_gap_or_duplicate() -> None:
    async def scenario() -> None:
        bus = EventBus(backlog=3)
        for n in range(5):
            bus.publish("tick", n=n)
        replaying, live = bus.subscribe(backlog=True), bus.subscribe()
        bus.publish("tick", n=5)
        assert [e["n"] for e in await take(replaying, 4)] == [2, 3, 4, 5]
        assert [e["n"] for e in await take(live, 1)] == [5]
        assert replaying.pending == live.pending == 0

    run(scenario)


def test_close_ends_every_subscription() -> None:
    async def scenario() -> None:
        bus = EventBus()
        subscriptions = [bus.subscribe() for _ in range(3)]
        bus.publish("last")
        bus.close()
        for subscription in subscriptions:
            assert [e["event"] for e in await rest(subscription)] == ["last"]
        assert bus.subscribers == 0

    run(scenario)


def test_the_handler_answers_a_stream_that_unsubscribes_when_closed() -> None:
    async def scenario() -> None:
        bus = EventBus()
        bus.publish("old")
        answer = events_handler(bus)({"command": "events", "backlog": True})
        assert isinstance(answer, Stream)
        assert answer.header == {"last_seq": 1}
        assert bus.subscribers == 1
        assert (await anext(answer.items))["event"] == "old"
        await answer.aclose()
        assert bus.subscribers == 0

    run(scenario)


def test_the_events_command_streams_over_the_control_socket(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario() -> None:
        bus = EventBus()
        server = ControlServer(path, {"events": events_handler(bus)})
        await server.start()
        try:
            bus.publish("state_changed", instance="web", old="initialize", new="backup")
            items = await asyncio.to_thread(stream, path, "events", backlog=True)
            with items:
                assert items.header == {"ok": True, "stream": True, "last_seq": 1}
                bus.publish("state_changed", instance="web", old="backup", new="master")
                received = [await asyncio.to_thread(items.read, 2) for _ in range(2)]
            assert [(e["seq"], e["new"]) for e in received if e] == [(1, "backup"), (2, "master")]
        finally:
            await server.close()

    run(scenario)
