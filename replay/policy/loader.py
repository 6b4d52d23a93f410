"""Load a policy pack from YAML with errors that name the file, the line and the key.

YAML is composed into nodes first so every value keeps its source mark; pydantic error
locations are then walked back through the node tree to a line number. Duplicate keys (which
PyYAML would silently collapse, dropping a rule) are refused. The content address is
`policy_hash = sha256(JCS(normalised pack))`, where the normalised pack omits defaults, so
re-spelling a file (comments, key order, 0.60 vs 0.6, an explicit default) keeps its hash.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ledger.canonical import content_hash
from ledger.errors import InputError
from replay.policy.schema import PolicyPack

__all__ = ["LoadedPack", "PolicyError", "Problem", "load_pack", "load_pack_data", "load_pack_text"]


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a pack, located as precisely as the YAML allows."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key or '<pack>'}: {self.message}"


class PolicyError(InputError):
    """A pack that cannot be used; `problems` lists every located error."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedPack:
    """A validated pack with its content address and normalised document."""

    pack: PolicyPack
    policy_hash: str
    name: str
    version: str
    document: dict[str, Any]
    source: str


def _check_duplicates(node: yaml.Node, file: str, problems: list[Problem], path: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:
                problems.append(Problem(file, key_node.start_mark.line + 1, child, "duplicate key"))
            seen.add(key)
            _check_duplicates(value_node, file, problems, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicates(item, file, problems, f"{path}[{index}]")


def _locate(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[int | None, str]:
    """Follow a pydantic error location through the YAML nodes: (line, dotted key)."""
    node = root
    line = root.start_mark.line + 1 if root is not None else None
    key = ""
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    nxt, line = value_node, key_node.start_mark.line + 1
                    break
            if nxt is None:
                if isinstance(part, str) and "[" not in part and part.isidentifier():
                    key = f"{key}.{part}" if key else part  # a missing key: name it
                break
            key = f"{key}.{part}" if key else str(part)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
            key = f"{key}[{part}]"
        else:
            continue  # union member tags ("float", "PerToolTimeouts") carry no position
        node = nxt
    return line, key


def _problems_from(exc: ValidationError, root: yaml.Node | None, file: str) -> list[Problem]:
    merged: dict[tuple[int | None, str], list[str]] = {}
    for error in exc.errors(include_url=False):
        line, key = _locate(root, tuple(error["loc"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        bucket = merged.setdefault((line, key), [])
        if message not in bucket:
            bucket.append(message)
    return [Problem(file, line, key, "; or ".join(msgs)) for (line, key), msgs in merged.items()]


def _finish(pack: PolicyPack, source: str) -> LoadedPack:
    document = pack.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    meta = pack.policy
    stem = Path(source).stem if source and not source.startswith("<") else "unnamed"
    return LoadedPack(
        pack=pack,
        policy_hash=content_hash(document),
        name=meta.id if meta else stem,
        version=meta.version if meta else "0",
        document=document,
        source=source,
    )


def load_pack_text(text: str, file: str = "<string>") -> LoadedPack:
    """Parse and validate YAML text; raise PolicyError naming file, line and key."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            problems: list[Problem] = []
            if root is not None:
                _check_duplicates(root, file, problems, "")
            if problems:
                raise PolicyError(problems)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError([Problem(file, line, "", f"YAML syntax: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(file, None, "", f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise PolicyError([Problem(file, 1, "", "a policy pack must be a YAML mapping")])
    try:
        pack = PolicyPack.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_problems_from(exc, root, file)) from None
    return _finish(pack, file)


def load_pack(path: Path | str) -> LoadedPack:
    """Load a pack from a file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(str(path), None, "", f"cannot read: {exc}")]) from None
    return load_pack_text(text, str(path))


def load_pack_data(document: Any, source: str = "<ledger>") -> LoadedPack:
    """Rebuild a pack from the normalised document stored in a policy.published event."""
    try:
        pack = PolicyPack.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(_problems_from(exc, None, source)) from None
    return _finish(pack, source)
