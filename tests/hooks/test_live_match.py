"""The stop target grammar (COMMON16) as the hooks judge it, and LEDGER_LIVE_POLL: no database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import ledger
from ledger.config import Settings
from ledger.errors import InputError
from ledger.hooks.live import StopRow, live_poll_seconds, match_stop
from ledger.hooks.writer import Writer


def test_a_malformed_poll_interval_fails_at_once_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_LIVE_POLL", "soon")
    with pytest.raises(InputError) as caught:
        live_poll_seconds()
    assert str(caught.value) == "LEDGER_LIVE_POLL must be a number of seconds, not 'soon'"


@pytest.mark.parametrize(("target", "tool", "model", "hit"), [
    ("agent:looper", None, None, True),
    ("agent:looper@1.0", None, None, True),
    ("agent:looper@2.0", None, None, False),
    ("agent:loop", None, None, False),
    ("tenant:acme", None, None, True),
    ("tenant:globex", None, None, False),
    ("tool:refund*", None, None, False),  # a tool stop only at that tool's boundary
    ("tool:refund*", "refund_order", None, True),
    ("tool:refund*", "search", None, False),
    ("model:gpt-4*", None, None, True),  # the run's own model
    ("model:claude-*", None, "claude-3", True),  # the model of the call about to start
    ("model:claude-*", None, None, False),
    ("prompt:triage/3", None, None, True),  # the run's prompt_version
    ("prompt:reply/7", None, None, True),  # resolved through run.prompt()
    ("prompt:reply/8", None, None, False),
])
def test_stop_targets_match_the_common_grammar(tmp_path: Path, target: str, tool: str | None,
                                               model: str | None, hit: bool) -> None:
    settings = Settings(home=tmp_path, dsn="postgresql://unused/none")
    run = ledger.run(agent="looper", agent_version="1.0", tenant="acme", model="gpt-4o",
                     prompt_version="triage/3", writer=Writer(settings))
    run.prompts.add("reply/7")
    row = StopRow(1, settings.origin("acme"), target, None, uuid.uuid4(), "ops", "", "asserted",
                  None, False)
    assert match_stop(row, run, settings.origin("acme"), tool=tool, model=model) is hit
    assert not match_stop(row, run, settings.origin("globex"), tool=tool, model=model)
    lifted = StopRow(2, row.origin, target, None, row.stop_event_id, "ops", "", "asserted", None,
                     True)
    assert not match_stop(lifted, run, settings.origin("acme"), tool=tool, model=model)
