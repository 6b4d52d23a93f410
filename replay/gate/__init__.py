"""The release gate (issue 19): suites of golden and adversarial tasks, evaluated over runs.

`suite` loads and hashes a suite file, `selector` picks recorded runs, `facts` turns a replayed
run into the CEL facts the expectations read, `evaluate` judges attempts and tasks. Nothing is
imported here: `ledger gate --help` must not load pydantic, yaml or celpy.
"""
