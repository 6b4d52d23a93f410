"""The release gate (issue 19): suites, runs, evaluation, comparison (placeholder of gatecmp's
branch; gatesuite owns this file)."""
