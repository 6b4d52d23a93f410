"""The stop-target text helpers (ledger.stoptargets): agent names and tool names unambiguous."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from ledger.stops import agent_target, glob_literal, parse_agent_target
from ledger.stoptargets import target_covers


@pytest.mark.parametrize(("name", "version", "target"), [
    ("support", None, "agent:support"),
    ("support", "1.0", "agent:support@1.0"),
    ("support@acme", "1.0", "agent:support%40acme@1.0"),
    ("100%@x", None, "agent:100%25%40x"),
    ("a%40b", "2", "agent:a%2540b@2"),
])  # fmt: skip
def test_agent_targets_round_trip(name: str, version: str | None, target: str) -> None:
    assert agent_target(name, version) == target
    assert parse_agent_target(target.removeprefix("agent:")) == (name, version)


@pytest.mark.parametrize("tool", ["wire[1]", "wire[!x]", "pay*", "a?b", "plain"])
def test_a_literal_glob_matches_only_its_tool(tool: str) -> None:
    glob = glob_literal(tool)
    assert fnmatchcase(tool, glob)
    assert not any(fnmatchcase(other, glob) for other in ("wire1", "wirex", "payout", "axb"))


def test_target_covers_reads_the_encoded_agent_name() -> None:
    def covers(target: str, tools: tuple[str, ...] = ()) -> bool:
        return target_covers(target, None, run_id="r", tenant="t", agent="support@acme",
                             version="3", tools=tools)  # fmt: skip

    assert covers("agent:support%40acme@3")
    assert not covers("agent:support@acme")  # agent `support`, version `acme`
    assert covers("tool:wire[[]1]", tools=("wire[1]",))
