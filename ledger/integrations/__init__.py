"""Integrations: framework callbacks and processors that write to the ledger via ledger.hooks."""
