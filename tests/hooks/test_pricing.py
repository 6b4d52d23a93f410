"""The versioned price table: decimal strings, prefix matching, unknown models."""

from __future__ import annotations

from decimal import Decimal

from ledger.events import Usage
from ledger.hooks.pricing import PriceTable, decimal_text, default_price_table


def test_default_table_prices_dated_model_variants():
    table = default_price_table()
    cost = table.cost("gpt-4o-mini-2024-07-18", Usage(input_tokens=1_000_000, output_tokens=0))
    assert cost is not None and cost.amount_usd == "0.15"
    assert table.cost("openai/gpt-4o", Usage(input_tokens=1)) is not None
    assert table.cost("unknown-model", Usage(input_tokens=1)) is None
    assert table.cost("gpt-4o", None) is None


def test_decimal_text_is_schema_valid():
    assert decimal_text(Decimal("0E-7")) == "0"
    assert decimal_text(Decimal("1.2300")) == "1.23"
    assert decimal_text(Decimal("1e-9")) == "0.000000001"


def test_custom_table():
    table = PriceTable.from_mapping({"version": "t@1", "models": {"m": {"input": "1",
                                                                         "output": "3"}}})
    cost = table.cost("m", Usage(input_tokens=2, output_tokens=1))
    assert cost is not None and cost.amount_usd == "0.000005" and cost.price_table_version == "t@1"
