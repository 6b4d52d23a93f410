"""Import history from other tracing systems (Phoenix, Langfuse) as `trust: imported` events.

Imported events are evidence of a weaker kind than live ones: the ledger did not witness the
action, it copied another system's record of it afterwards. So every imported event says so
(`trust: "imported"`), names its source record (system, project, trace and span or observation
ids) and carries the SHA-256 of that record's canonical JSON, and ids are derived from the
source ids, so importing the same history twice stores nothing twice. Each import ends in a
reconciliation report (`ImportReport`): every source record seen is imported, already present,
or skipped with a reason; an empty window and disagreeing counts are reported, never silent.
"""

from ledger.importers.report import ImportReport, RecordOutcome

__all__ = ["ImportReport", "RecordOutcome"]
