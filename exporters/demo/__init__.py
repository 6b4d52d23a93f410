"""The demo incident: a sales-ops agent and a support agent at work, then an incident.

It runs through the real hooks and integrations (a LangGraph graph with a scripted fake model,
the native Python API, effect contracts with pre-state capture) against the embedded PostgreSQL,
with no network. See `story.py` for the timeline and `report.py` for what is printed.
"""
