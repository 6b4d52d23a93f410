"""The options every `ledger gate` command shares (run, check, compare): one definition each,
so the three commands read and document them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import input_argument

__all__ = ["JunitOption", "NoRecordOption", "SignWithOption", "SuiteArgument"]

SuiteArgument = Annotated[Path, input_argument("The suite YAML file.", metavar="SUITE")]
SignWithOption = Annotated[
    str | None,
    typer.Option("--sign-with", metavar="KEY",
                 help="Sign the gate result with this key file or pkcs11: URI (the registry's "
                      "service_key in CI; without one the result is recorded `asserted`)."),
]
JunitOption = Annotated[
    Path | None,
    typer.Option("--junit", metavar="FILE", help="Also write JUnit XML (one testcase per task)."),
]
NoRecordOption = Annotated[
    bool, typer.Option("--no-record", help="Judge and print; record no gate.result event."),
]
