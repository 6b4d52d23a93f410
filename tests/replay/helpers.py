"""Shared helpers for replay tests: build packs from text, check runs, pick verdicts."""

from __future__ import annotations

import textwrap

from replay.model import RunState
from replay.policy import Verdict, check_run, compile_pack, load_pack_text
from replay.state import fold, stored
from replay.synth import RunBuilder


def state_of(b: RunBuilder) -> RunState:
    return fold(stored(b.events))


def verdicts(pack_yaml: str, b: RunBuilder) -> dict[str, Verdict]:
    pack = compile_pack(load_pack_text(textwrap.dedent(pack_yaml), "pack.yaml"))
    return {v.rule_id: v for v in check_run(pack, state_of(b))}


def outcome(pack_yaml: str, b: RunBuilder, rule_id: str) -> str:
    return verdicts(pack_yaml, b)[rule_id].outcome
