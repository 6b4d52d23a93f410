"""README.md, VERIFY.md and known_gaps.md of an evidence bundle.

Why text lives in code: the documents quote the bundle's own parameters, counts and key
fingerprints, and VERIFY.md must describe exactly the files this version writes. Each step in
VERIFY.md uses a standard tool (sha256sum, jq, securesystemslib or any DSSE verifier, DuckDB)
so an auditor never has to run our code; `ledger verify-bundle` is a convenience.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from exporters.populations import Population
from ledger.markdown import markdown_code, markdown_text

__all__ = ["known_gaps_md", "readme", "verify_md"]


def readme(  # noqa: PLR0917 (plain text template)
    params: dict[str, Any],
    export_id: str,
    created_at: str,
    events: int,
    start_size: int,
    end_size: int,
    pops: Sequence[Population],
    counts: Sequence[int],
) -> str:
    rows = "\n".join(
        f"| {p.control} | {p.title} | `{p.path}` | {n} |" for p, n in zip(pops, counts, strict=True)
    )
    # the origin and tenant are names a writer chose: never Markdown structure (ledger.markdown)
    params = {k: markdown_text(params[k]) for k in ("origin", "since", "until")} | {
        "tenant": markdown_code(params["tenant"])
    }
    return f"""# Evidence bundle {export_id}

Audit-ledger evidence for **{params["origin"]}** (tenant {params["tenant"]}), period
**[{params["since"]}, {params["until"]})** by event time (`occurred_at`), created {created_at}.

- {events} events in scope, the full population: `ledger/events.parquet` (flat columns + the
  exact canonical bytes in `body`) and the same bytes one per line in `ledger/events.jsonl`.
- Signed log checkpoints: `checkpoints/start.note` (tree size {start_size}; absent when the period
  starts at the empty tree) and `checkpoints/end.note` (size {end_size}), the consistency proof
  between them, and the leaf hashes of the whole prefix in `ledger/leaves.parquet`.
- `manifest.json` lists every file with size, SHA-256, row count and schema version; it is a
  subject of the in-toto Statement in `attestation/bundle.dsse.json` (DSSE, Ed25519).

## How to read it

| control | population | file | rows |
|---|---|---|---|
{rows}

`controls/control-matrix.csv` maps each control to its TSC criterion, population, test procedure
and evidence paths. Each population has a `.population.json` with the SQL that derived it from
`ledger/events.parquet`, its parameters and row count. `config/` holds the versions (prompts,
models, policy hashes, tool contracts) in force and the policy packs published up to the end
checkpoint; `replays/` the recorded undo plans/steps and failing run-time verdicts;
`custody/` who requested and generated this bundle; `exceptions/known_gaps.md` everything that
is missing or redacted and why. To verify, follow `VERIFY.md`.

Time stamps are RFC 3339 UTC with nanoseconds; identifiers are UUIDv7; hashes are hex SHA-256.
"""


def verify_md(fingerprint: str, dsse_keyid: str) -> str:
    """VERIFY.md: every step an auditor can run without our code (each one executed by the
    tests against a real bundle), naming the keys this export says it was signed with."""
    return _verify_intro(fingerprint, dsse_keyid) + _verify_signature(dsse_keyid) + _VERIFY_REST


def _verify_intro(fingerprint: str, dsse_keyid: str) -> str:
    return f"""# Verifying this bundle (offline, with standard tools)

Trust nothing in this directory until step 1 is done. `ledger verify-bundle DIR --trust KEYS`
(KEYS: the log key you pinned in step 1) runs steps 2-7 in one go, but every step below can be
done without our code. Add `--trust-root ADMIN_KEYS` (the registry administrators' public
keys, obtained out of band) to judge every approval's signature against the principal registry
in force (`config/registries.jsonl`) and every disclosed identity token (`identity/tokens.jsonl`:
each row is tied to the commitment its `run.started` holds, then verified against the identity
providers of that registry); without it approvals and identities are reported UNTRUSTED.

## 1. Pin the keys out of band
`keys/trust.json` travels with the bundle, so it proves nothing by itself: whoever could rewrite
the bundle could rewrite it too. Compare it with fingerprints obtained from the system
description or an earlier period, and use only the keys you obtained that way below. The
export says it was signed with the log key `{fingerprint}` (DSSE keyid `{dsse_keyid}`).
`ledger verify-bundle DIR` without `--trust` reports UNTRUSTED (exit 5) and prints the
fingerprints the bundle claims, for this comparison.

## 2. File integrity and completeness
```sh
sha256sum -c SHA256SUMS
diff <(find . -type f ! -name SHA256SUMS | sed 's|^\\./||' | sort) <(cut -c67- SHA256SUMS | sort)
jq -r '.files[] | "\\(.sha256)  \\(.path)"' manifest.json | sha256sum -c
```

"""


def _verify_signature(dsse_keyid: str) -> str:
    return f"""## 3. Signature over the manifest (DSSE + in-toto Statement v1)
`attestation/bundle.dsse.json` is a DSSE envelope (payloadType `application/vnd.in-toto+json`);
its signed payload is an in-toto Statement whose subjects are every file (including
`manifest.json`) with its SHA-256. Verify the signature with the public key you pinned in step 1
(its hex form is the last 32 bytes of the base64 in the vkey), e.g. with securesystemslib:
```python
import json
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
env = Envelope.from_dict(json.load(open("attestation/bundle.dsse.json")))
pub = "<public key hex of the log key you pinned in step 1>"
key = SSlibKey("{dsse_keyid}", "ed25519", "ed25519", {{"public": pub}})
env.verify([key], 1)
```
Then check the files against the subjects of the signed payload itself (decoded from the
envelope; `attestation/statement.intoto.json` is an unsigned copy for reading, do not use it):
```sh
jq -r '.payload' attestation/bundle.dsse.json | base64 -d \\
  | jq -r '.subject[] | "\\(.digest.sha256)  \\(.name)"' | sha256sum -c
```

"""


_VERIFY_REST = """## 4. Checkpoints
`checkpoints/*.note` are C2SP signed notes (origin, tree size, base64 root; then signature lines
`— <key name> base64(keyid || Ed25519 sig)`). Verify them with any C2SP `note` implementation
and compare with checkpoints you received earlier or that witnesses cosigned.
`checkpoints/end.cosigned.note`, present when the ledger runs a witness, is the end checkpoint
with the witness's C2SP cosignature/v1 line; check it with the witness key obtained out of band
(`ledger verify-bundle DIR --trust KEYS --witness-key WITNESS.vkey`).

## 5. Leaves, roots and consistency
`ledger/leaves.parquet` holds `leaf_hash` for every `seq` in [0, end size). The RFC 6962 root
over the first N leaves must equal the root in `start.note` (N = start size) and `end.note`.
`checkpoints/consistency.json` is a standard RFC 9162 §2.1.4 consistency proof from the start
to the end checkpoint. Every in-scope event's leaf must be recomputable from its bytes:
```sql
-- DuckDB: the leaf is SHA-256 over the byte 0x00 and the body's bytes (a BLOB, not text)
CREATE VIEW events AS SELECT * FROM 'ledger/events.parquet';
CREATE VIEW leaves AS SELECT * FROM 'ledger/leaves.parquet';
SELECT count(*) FROM events e JOIN leaves l USING (seq)
WHERE sha256('\\x00'::BLOB || encode(e.body)) <> lower(hex(l.leaf_hash))
   OR e.leaf_hash <> lower(hex(l.leaf_hash));   -- expect 0
```
Within a run, `run_seq` is contiguous and `prev_run_hash` equals the previous event's leaf hash
(read from the bodies, which the query above bound to the leaves):
```sql
-- DuckDB
SELECT count(*) FROM (
  SELECT (body->>'$.run_seq')::BIGINT AS run_seq, body->>'$.prev_run_hash' AS prev_run_hash,
         lag((body->>'$.run_seq')::BIGINT) OVER w AS prev_seq, lag(leaf_hash) OVER w AS prev_leaf
  FROM events WINDOW w AS (PARTITION BY body->>'$.run_id' ORDER BY (body->>'$.run_seq')::BIGINT))
WHERE prev_seq IS NOT NULL
  AND (run_seq <> prev_seq + 1 OR prev_run_hash IS DISTINCT FROM prev_leaf);   -- expect 0
```
The canonical form is RFC 8785 (JCS); `ledger/events.jsonl` has the same bytes, one per line.

## 6. Populations
For each `populations/<control>/<name>.population.json`, run its `sql` over the `events` view and
compare the row count (and the CSV) with `row_count` / `<name>.csv`. Columns are documented in
the header line of each CSV.

## 7. Sample and trace
Draw your own sample from each population, then trace every item to its events (by `run_id` and
`seq`), approvals, versions in force (`config/`) and undo records (`replays/`).

## 8. Custody
`custody/` records who requested and generated the export. The ledger itself records an
`export.created` event with this bundle's `manifest.json` SHA-256; you will find it in the next
period's bundle, which closes the custody loop.
"""


def known_gaps_md(gaps: list[dict[str, Any]]) -> str:
    lines = [
        "# Known gaps and exceptions",
        "",
        "Everything missing, redacted or out of scope in this bundle, declared rather than "
        "silent. Machine-readable: `known_gaps.json`.",
        "",
    ]
    for gap in gaps:
        where = f" (seq {gap['seq']}, {markdown_text(gap['occurred_at'])})" if "seq" in gap else ""
        detail = gap.get("details")
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
        # details quote what writers recorded (ledger.markdown: inert, one line)
        lines.append(f"- **{markdown_text(gap['kind'])}**{where}: {markdown_text(text)}")
    return "\n".join(lines) + "\n"
