"""Cost of an LLM call from usage and a *versioned* price table.

Providers' own cost figures disagree with invoices and change silently, so the ledger computes
cost itself and records which table produced it (`price_table_version`): an auditor can then
recompute every figure, or re-price a run under a newer table. Money is a decimal string, never
a float, because hashed content must not depend on float formatting.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.events import Cost, Usage

__all__ = ["PriceTable", "decimal_text", "default_price_table"]

_MILLION = Decimal(1_000_000)


def decimal_text(value: Decimal) -> str:
    """Plain decimal string (no exponent, no trailing zeros) matching the event schema."""
    text = format(value.quantize(Decimal("1e-12")), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    return text


@dataclass(frozen=True)
class PriceTable:
    """Per-million-token prices keyed by model name prefix; the longest matching prefix wins."""

    version: str
    models: dict[str, tuple[Decimal, Decimal]]

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> PriceTable:
        """Parse the JSON layout of `prices.json` (prices as decimal strings)."""
        models = {
            str(name): (Decimal(str(p["input"])), Decimal(str(p["output"])))
            for name, p in dict(data["models"]).items()
        }
        return cls(version=str(data["version"]), models=models)

    @classmethod
    def from_file(cls, path: Path) -> PriceTable:
        """Load a price table from a JSON file with the same layout as the bundled one."""
        return cls.from_mapping(json.loads(path.read_text(encoding="utf-8")))

    def lookup(self, model: str | None) -> tuple[Decimal, Decimal] | None:
        """Prices for `model`, matching dated variants such as gpt-4o-2024-08-06 by prefix."""
        if not model:
            return None
        name = model.lower().rsplit("/", 1)[-1]
        best = max((k for k in self.models if name.startswith(k)), key=len, default=None)
        return self.models[best] if best is not None else None

    def cost(self, model: str | None, usage: Usage | None) -> Cost | None:
        """Cost of one call, or None when the model is unknown or usage is missing."""
        prices = self.lookup(model)
        if prices is None or usage is None:
            return None
        if usage.input_tokens is None and usage.output_tokens is None:
            return None
        tokens_in, tokens_out = Decimal(usage.input_tokens or 0), Decimal(usage.output_tokens or 0)
        amount = (tokens_in * prices[0] + tokens_out * prices[1]) / _MILLION
        return Cost(amount_usd=decimal_text(amount), price_table_version=self.version)


@functools.cache
def default_price_table() -> PriceTable:
    """The table shipped with the package (ledger/hooks/prices.json), loaded once."""
    text = resources.files("ledger.hooks").joinpath("prices.json").read_text(encoding="utf-8")
    return PriceTable.from_mapping(json.loads(text))
