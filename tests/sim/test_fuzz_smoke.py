"""A short run of the codec / receive-path fuzzer (``make fuzz`` runs 1,000,000 inputs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vipguard.proto.auth import Authenticator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import fuzz_codec  # noqa: E402

RUNS = 20_000


def test_decode_and_receive_keep_their_contract_on_mutated_adverts() -> None:
    result = fuzz_codec.fuzz(RUNS, seed=1)
    print(result.summary())
    assert result.findings == [], "\n".join(result.findings)
    assert result.runs == RUNS
    # Not a vacuous run: the inputs reach every stage, accepted adverts included.
    reached = set(result.outcomes)
    assert {"accepted", "bad_checksum", "bad_length", "too_short", "bad_ttl"} <= reached
    assert {"auth_missing", "auth_bad_hmac", "auth_replay", "auth_stale"} <= reached
    assert {"auth_unknown_key", "auth_malformed", "unknown_peer", "own_packet"} <= reached
    assert "family_mismatch" in reached
    assert result.accepted_signed > 100


def test_a_contract_break_is_reported_with_its_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle is real: a receive path that accepts any trailer is caught at once."""
    monkeypatch.setattr(Authenticator, "verify", lambda *args, **kwargs: None)
    result = fuzz_codec.fuzz(RUNS, seed=1, max_findings=1)
    assert len(result.findings) == 1
    (finding,) = result.findings
    data = bytes.fromhex(finding.split(" input ", 1)[1].split(":", 1)[0])
    with pytest.raises(fuzz_codec.Finding):
        fuzz_codec.replay(data)
