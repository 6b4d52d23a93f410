"""Secret detectors and the scrubber the capture hooks and `ledger ingest` run on event data.

Why: an append-only log cannot forget, so a credential an agent hands to a tool (or an LLM
echoes back) must be caught *before* it is hashed into the log. Every detected secret is replaced
by `[secret:<detector> sha256:<commitment>]`, a salted commitment whose salt is discarded: the
record shows that a secret of that kind was there, and nobody can recover or confirm it.

The detectors (name: what it matches, example):

- private_key: a PEM private key block, `-----BEGIN RSA PRIVATE KEY----- ... -----END ...`
- url_password: the user:password of a URL, `postgres://admin:hunter2@db`
- bearer_token: the token after `Bearer `, `Authorization: Bearer abcdefghijklmnop`
- basic_auth: the base64 user:pass after `Basic `, `Authorization: Basic YWRtaW46aHVudGVyMg==`
- jwt: three base64url segments starting `eyJ`
- openai_api_key: `sk-...`, `sk-proj-...`, `sk-ant-...` (20+ characters after the prefix)
- aws_access_key_id: `AKIA` / `ASIA` + 16 upper-case letters or digits
- aws_secret_access_key: the 40-character value after `aws_secret_access_key=` or `:`
  (any case, quotes allowed), `AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`
- github_token: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36 or more characters
- github_pat: fine-grained GitHub token, `github_pat_` + 40 or more characters
- slack_token: `xoxb-`, `xoxp-`, ... + 10 or more characters
- google_api_key: `AIza` + 35 characters
- api_key_header: the value (8+ characters) of an API-key header written as text,
  `X-Api-Key: 8f2a...`, `x-goog-api-key=...`, `X-Auth-Token: ...`, `api_key=...`
- base64:<detector>: a base64 (or base64url) blob of 20+ characters whose decoded text holds a
  secret any detector above finds, `YXdzX3NlY3JldF9hY2Nlc3Nfa2V5PS4uLg==`
- key:<name>: any non-empty string value of a dict key named like a credential: password,
  secret, api_key, X-Api-Key, x-goog-api-key, access_token, auth_token, authorization,
  private_key, refresh_token, session_token, aws_secret_access_key, client_secret (an optional
  `x-` and any `word-` / `word_` prefix, any case)

Dict keys are scanned like text (a token used as a key); only `data` and `raw.payload` of an
event are scrubbed (`scrub_event_json`), never the typed envelope.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.commitment import commitment_of

__all__ = ["DETECTORS", "SECRET_MARKER", "Detector", "scrub_event_json", "scrub_secrets"]

Findings = list[dict[str, str]]


def _is_user_pass(token: str) -> bool:
    """True when `token` is base64 of `user:password` (what HTTP Basic carries)."""
    text = _b64_text(token)
    return text is not None and ":" in text


@dataclass(frozen=True)
class Detector:
    """One secret pattern: the secret is group `s` when the pattern has one, else the match.

    `hints`: lower-case substrings every match contains; text holding none of them is skipped
    without running the pattern (the hooks scrub every event on the writer thread).
    """

    name: str
    hints: tuple[str, ...]
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private_key",
        ("private key-----",),
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ),
    Detector("url_password", ("://",), re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)")),
    Detector("bearer_token", ("bearer ",), re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{16,}")),
    Detector(
        "basic_auth",
        ("basic",),
        re.compile(r"(?i)\bbasic\s+(?P<s>[A-Za-z0-9+/]{6,}={0,2})"),
        _is_user_pass,
    ),
    Detector(
        "jwt",
        ("eyj",),
        re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    Detector("openai_api_key", ("sk-",), re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}")),
    Detector("aws_access_key_id", ("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Detector(
        "aws_secret_access_key",
        ("secret",),
        re.compile(
            r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?"
            r"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
    ),
    Detector(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    ),
    Detector("github_pat", ("github_pat_",), re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}")),
    Detector("slack_token", ("xox",), re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    Detector("google_api_key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    Detector(
        "api_key_header",
        ("key", "token", "secret"),
        re.compile(
            r"(?i)\b(?:x-[a-z0-9-]*?(?:api-?key|auth-?token|access-?token|secret)|api[-_]?key)"
            r"[\"']?\s*[:=]\s*[\"']?(?P<s>[^\s\"',;\[]{8,})"
        ),
    ),
)
SECRET_MARKER = re.compile(r"\[secret:[A-Za-z0-9_:-]+ sha256:[0-9a-f]{64}\]")
"""What a scrubbed secret looks like in a record (args holding one are not fully recorded)."""
_WHITESPACE = str.maketrans("\t\n\r", "   ")
_B64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=_:-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])")
_SECRET_KEYS = re.compile(
    r"(?i)^(?:x-)?(?:[a-z0-9]+[-_])*?(?:pass(?:word|wd)?|secret|client[-_]?secret|"
    r"api[-_]?key|access[-_]?token|auth[-_]?token|authorization|private[-_]?key|"
    r"refresh[-_]?token|session[-_]?token|secret[-_]?access[-_]?key)$"
)


def _b64_text(blob: str) -> str | None:
    """The UTF-8 text a base64 / base64url blob decodes to, or None (binary or not base64)."""
    padded = blob.rstrip("=") + "=" * (-len(blob.rstrip("=")) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return text if text.translate(_WHITESPACE).isprintable() else None


def _inner_detector(blob: str) -> str | None:
    """The first detector that finds a secret in the decoded text of `blob`, if any."""
    text = _b64_text(blob)
    if text is None:
        return None
    lower = text.lower()
    for d in DETECTORS:
        for m in d.pattern.finditer(text) if _hinted(d, lower) else ():
            if d.check is None or d.check(m.group("s") if "s" in d.pattern.groupindex else m[0]):
                return d.name
    return None


def _marker(detector: str, secret: str, path: str, findings: Findings) -> str:
    commitment = commitment_of(os.urandom(32), path, secret)
    findings.append({"path": path, "detector": detector, "commitment": commitment})
    return f"[secret:{detector} {commitment}]"


def _apply(d: Detector, text: str, path: str, findings: Findings) -> str:
    grouped = "s" in d.pattern.groupindex

    def replace(m: re.Match[str]) -> str:
        secret = m.group("s") if grouped else m.group(0)
        if d.check is not None and not d.check(secret):
            return m.group(0)
        if not grouped:
            return _marker(d.name, secret, path, findings)
        start, end = m.start("s") - m.start(), m.end("s") - m.start()
        whole = m.group(0)
        return whole[:start] + _marker(d.name, secret, path, findings) + whole[end:]

    return d.pattern.sub(replace, text)


def _hinted(d: Detector, lower: str) -> bool:
    return any(h in lower for h in d.hints)


def _scrub_text(text: str, path: str, findings: Findings) -> str:
    lower = text.lower()
    for d in DETECTORS:
        if _hinted(d, lower) and d.pattern.search(text):
            text = _apply(d, text, path, findings)

    def wrapped(m: re.Match[str]) -> str:
        inner = _inner_detector(m.group(0))
        return m.group(0) if inner is None else _marker(f"base64:{inner}", m[0], path, findings)

    return _B64_BLOB.sub(wrapped, text) if len(text) >= 20 else text


def scrub_secrets(json_value: Any, _path: str = "") -> tuple[Any, Findings]:
    """Replace secrets in a JSON value by commitment markers; return (scrubbed, findings).

    Each finding is {"path": JSON pointer, "detector": name, "commitment": "sha256:..."}.
    """
    findings: Findings = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, str):
            return _scrub_text(value, path, findings)
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, v in value.items():
                # a secret used as a key is scrubbed too (its finding names the dict's path)
                k = _scrub_text(key, path, findings) if isinstance(key, str) else key
                sub = f"{path}/{str(k).replace('~', '~0').replace('/', '~1')}"
                if (
                    isinstance(v, str)
                    and v
                    and _SECRET_KEYS.match(str(k))
                    and not v.startswith("[secret:")
                ):
                    out[k] = _marker(f"key:{k}", v, sub, findings)
                else:
                    out[k] = walk(v, sub)
            return out
        return value

    return walk(json_value, _path), findings


def scrub_event_json(event: dict[str, Any]) -> tuple[dict[str, Any], Findings]:
    """Scrub an event's `data` and `raw.payload` (what agents fill); the envelope is left alone.

    Why only those: the envelope (ids, run_seq, hashes, tenant) is typed and checked, never free
    text, and rewriting it would break the chain. Findings carry paths from the event root.
    """
    out = dict(event)
    findings: Findings = []
    if "data" in out:
        out["data"], found = scrub_secrets(out["data"], "/data")
        findings += found
    raw = out.get("raw")
    if isinstance(raw, dict) and "payload" in raw:
        payload, found = scrub_secrets(raw["payload"], "/raw/payload")
        out["raw"] = {**raw, "payload": payload}
        findings += found
    return out, findings
