"""Policy packs checked after the fact: schema, loader, rules and the evaluation engine."""

from replay.policy.engine import EVALUATOR_VERSION, CompiledPack, check_run, compile_pack
from replay.policy.loader import LoadedPack, PolicyError, load_pack, load_pack_text
from replay.policy.verdict import Verdict

__all__ = [
    "EVALUATOR_VERSION",
    "CompiledPack",
    "LoadedPack",
    "PolicyError",
    "Verdict",
    "check_run",
    "compile_pack",
    "load_pack",
    "load_pack_text",
]
