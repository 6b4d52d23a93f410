"""A temporary on-disk table of source records, grouped and ordered by trace.

Why: sources hand out records in any order (Langfuse blob exports interleave traces; Phoenix
pages by time), but a ledger run must be written in order, one trace at a time. Holding the
whole export in memory to regroup it would make memory grow with the input; a SQLite file in
a temporary directory keeps it flat, and finds duplicate records for free (primary key).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import orjson

from ledger.db.sqlfiles import query
from ledger.importers.source import SourceSpan, TraceMeta

__all__ = ["Staging"]


class Staging:
    """`with Staging() as s: s.add(span) ...; for meta, spans in s.traces(): ...`"""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ledger-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "staging.db")
        self._db.executescript(query("import_staging_schema"))

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._db.close()
        self._dir.cleanup()

    def add(self, span: SourceSpan) -> str | None:
        """Stage one record; the reason it is skipped when its id was already staged."""
        key = f"{span.trace_id}\x1f{span.span_id}"
        row = self._db.execute(query("import_staged_digest"), (key,)).fetchone()
        if row is not None:
            return ("duplicate of an earlier record in the input" if row[0] == span.digest
                    else "span id used earlier in the input for a different record")
        self._db.execute(query("import_stage_span"),
                         (key, span.trace_id, span.start_ns, span.digest, orjson.dumps(span)))
        return None

    def add_trace(self, meta: TraceMeta) -> None:
        """Stage what the source says about a whole trace (the last record for an id wins)."""
        self._db.execute(query("import_stage_trace"),
                         (meta.trace_id, orjson.dumps(meta)))

    def traces(self) -> Iterator[tuple[TraceMeta, list[SourceSpan]]]:
        """Each trace with its spans in start order; traces with metadata only come with []."""
        ids = self._db.execute(query("import_staged_traces"))
        for (trace_id,) in _rows(ids):
            meta_row = self._db.execute(query("import_staged_trace"), (trace_id,)).fetchone()
            meta = (TraceMeta(**orjson.loads(meta_row[0])) if meta_row
                    else TraceMeta(trace_id=trace_id))
            rows = self._db.execute(query("import_staged_spans"), (trace_id,))
            yield meta, [SourceSpan(**orjson.loads(body)) for (body,) in rows]


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple[str]]:
    """Fetch in small batches: the id list of a large export is not held at once."""
    while batch := cursor.fetchmany(500):
        yield from batch
