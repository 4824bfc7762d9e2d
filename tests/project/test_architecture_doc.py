"""docs/architecture.md stays true to the code: its state diagram is the transition table's, and
it names every module of the layered packages."""

from __future__ import annotations

import sys
from pathlib import Path

from vipguard.proto.effects import Reason, State
from vipguard.proto.router import TRANSITIONS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import state_diagram  # noqa: E402

DOC = ROOT / "docs" / "architecture.md"


def test_the_state_diagram_in_the_doc_is_the_transition_table() -> None:
    assert state_diagram.main([]) == 0, "run tools/state_diagram.py --write"


def test_the_diagram_changes_with_the_table() -> None:
    changed = {**TRANSITIONS, (State.FAULT, Reason.SYNC_GROUP): State.BACKUP}
    assert state_diagram.diagram(changed) != state_diagram.diagram()
    assert "fault --> backup: fault_cleared, sync_group" in state_diagram.diagram(changed)


def test_every_arrow_and_reason_of_the_table_is_drawn() -> None:
    drawn = state_diagram.diagram()
    for (old, reason), new in TRANSITIONS.items():
        arrow = next(line for line in drawn.splitlines() if f"{old} --> {new}:" in line)
        assert reason.value in arrow


def test_the_doc_names_every_module_of_the_layers() -> None:
    text = DOC.read_text()
    package = ROOT / "vipguard"
    missing = [
        f"{layer}/{path.relative_to(package / layer)}"
        for layer in ("proto", "rules", "io", "agent", "config")
        for path in sorted((package / layer).rglob("*.py"))
        if path.name != "__init__.py" and str(path.relative_to(package / layer)) not in text
    ]
    assert missing == [], f"docs/architecture.md does not mention: {missing}"
