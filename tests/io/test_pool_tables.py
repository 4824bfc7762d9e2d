"""The nftables text of the pools' data plane (io/pool_tables.py); the kernel runs it in
netns-tests/test_pool_tables_kernel.py."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from vipguard.io.pool_tables import TABLE, PoolPlane, delete, ruleset, update

WEB = PoolPlane("web", ip_address("192.0.2.100"), 80, slots=4)
DNS = PoolPlane("dns-6", ip_address("2001:db8::53"), 53, protocol="udp", source_hash=True)


def test_a_pool_is_two_maps_a_chain_and_an_explicit_empty_rule() -> None:
    text = ruleset([WEB])
    assert text.index(f"delete table ip {TABLE}") < text.index(f"table ip {TABLE} {{")
    for side in ("a", "b"):
        assert f"map pool_web_{side} {{ typeof numgen inc mod 4 : ip daddr . tcp dport; }}" in text
    entry = "ip daddr 192.0.2.100 tcp dport 80 jump pool_web"
    empty = "ip daddr 192.0.2.100 tcp dport 80 counter reject with tcp reset"
    assert "chain pool_web { }" in text  # no backend until the first update
    assert text.index(entry) < text.index(empty)  # reached when the pool's chain did not DNAT
    assert "masquerade" not in text


def test_ipv6_source_hash_udp_and_full_nat() -> None:
    text = ruleset([DNS, PoolPlane("web", ip_address("192.0.2.100"), 80, full_nat=True)])
    assert f"table ip6 {TABLE}" in text and "typeof jhash ip6 saddr mod 64" in text
    assert "udp dport 53 counter reject comment" in text  # ICMP for UDP
    assert "ct original ip daddr 192.0.2.100 ct original proto-dst 80 masquerade" in text


def test_an_update_fills_the_side_not_in_use_then_swaps_the_rule() -> None:
    backend = (ip_address("198.51.100.11"), 8080), (ip_address("198.51.100.12"), 8080)
    fill, swap = update(WEB, [backend[0], backend[1], backend[0], backend[1]], "b")
    assert fill.splitlines() == [
        f"flush map ip {TABLE} pool_web_b",
        f"add element ip {TABLE} pool_web_b {{ 0 : 198.51.100.11 . 8080, 1 : 198.51.100.12 . 8080,"
        " 2 : 198.51.100.11 . 8080, 3 : 198.51.100.12 . 8080 }",
    ]
    assert swap.splitlines() == [
        f"flush chain ip {TABLE} pool_web",
        f"add rule ip {TABLE} pool_web meta l4proto tcp"
        " dnat ip to numgen inc mod 4 map @pool_web_b",
    ]
    fill, swap = update(WEB, [], "a")
    assert fill.splitlines() == [f"flush map ip {TABLE} pool_web_a"]
    assert swap.splitlines() == [f"flush chain ip {TABLE} pool_web"]  # empty: the reset answers
    with pytest.raises(ValueError, match="has 4 slots, not 2"):
        update(WEB, list(backend), "a")
    with pytest.raises(ValueError, match="side 'c'"):
        update(WEB, [], "c")


def test_full_nat_is_one_fixed_rule_on_the_original_destination() -> None:
    pool = PoolPlane("web", ip_address("192.0.2.100"), 80, slots=2, full_nat=True)
    masquerade = (
        "meta l4proto tcp ct status dnat ct original ip daddr 192.0.2.100"
        " ct original proto-dst 80 masquerade"
    )
    assert masquerade in ruleset([pool])
    backend = (ip_address("198.51.100.11"), 8080)
    assert "masquerade" not in "".join(update(pool, [backend, backend], "a"))  # nothing to swap


def test_bad_pools_are_refused_and_delete_never_fails_on_a_missing_table() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        PoolPlane("web pool", ip_address("192.0.2.100"), 80)
    with pytest.raises(ValueError, match="tcp\\|udp"):
        PoolPlane("web", ip_address("192.0.2.100"), 80, protocol="sctp")
    assert delete().splitlines()[0] == f"add table ip {TABLE}"
