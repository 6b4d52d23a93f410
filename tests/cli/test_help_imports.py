"""`ledger --help` stays light (issue 18: within 25x a bare Python start; timed in bench/).

The figure itself is measured by bench/bench_cli.py, not asserted here; what is pinned is its
cause: the root help imports no database driver, UI, Arrow, policy engine, Rich or pydantic
(Typer's Rich help pulled in Markdown, Pygments and Traceback: half of the start-up).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("psycopg", "textual", "pyarrow", "rich", "pydantic", "celpy", "lark", "markdown_it",
         "pygments", "attr", "yaml")
#: The only modules of the higher layers `--help` may load: the command modules themselves.
COMMAND_MODULES = ("replay.cli", "exporters.cli", "exporters.demo.demo_cmd", "tui.cli")

_PROBE = """
import json, sys
sys.argv = ["ledger", "--help"]
from ledger.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_root_help_imports_no_heavy_or_engine_module() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          check=True, timeout=60)
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []
    engine = sorted(
        m for m in loaded
        if m.split(".")[0] in ("replay", "exporters", "tui") and "." in m
        and not m.startswith(COMMAND_MODULES)
        and m not in ("exporters.demo",)
    )
    assert engine == []
    assert "replay.engine" not in loaded and "replay.batch" not in loaded
    listing = done.stdout
    assert listing.startswith("Usage: ledger [OPTIONS] COMMAND [ARGS]...")
    assert "\n  init           Create the ledger home (if missing) and migrate its database\n" \
        in listing
