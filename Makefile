# Two entry points for a new machine with only Python 3.11+ and make:
#   make demo   -> set up, start the embedded ledger, record and verify a scripted agent run
#   make test   -> set up and run the whole test suite
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv

.PHONY: demo test setup lint bench

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# semantic-kernel pins mcp<2 and pydantic<2.14 (a declared conflict in pyproject.toml): its
# integration is tested in its own locked project, tests/envs/sk, built by `make test`.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --no-extra semantic-kernel --quiet
	touch $@

setup: $(VENV)/.synced

# The Semantic Kernel environment (tests/envs/sk: its own lock, the repo as an editable path
# dependency); tests/integrations/test_semantic_kernel_env.py runs its tests and fails, never
# skips, when it is not built. Its lock includes the repo's own dependencies: after changing
# pyproject.toml, re-lock it too (`.tools/bin/uv lock --project tests/envs/sk`).
SK_ENV := tests/envs/sk
$(SK_ENV)/.venv/.synced: $(UV) pyproject.toml $(SK_ENV)/pyproject.toml $(SK_ENV)/uv.lock
	$(UV) sync --locked --project $(SK_ENV) --quiet
	touch $@

# The Phoenix server for the importer tests (tests/importers/test_phoenix_*.py): its own locked
# project, not a workspace member (arize-phoenix is a whole server with its own pins).
PHOENIX_ENV := tests/envs/phoenix
$(PHOENIX_ENV)/.venv/.synced: $(UV) $(PHOENIX_ENV)/pyproject.toml $(PHOENIX_ENV)/uv.lock
	$(UV) sync --locked --project $(PHOENIX_ENV) --quiet
	touch $@

# Datadog's test agent, the OTLP receiver of the push tests (tests/otlp/): its own locked project
# (ddapm-test-agent pins an older opentelemetry-proto than ours); the fixture fails when unbuilt.
DDAGENT_ENV := tests/envs/ddagent
$(DDAGENT_ENV)/.venv/.synced: $(UV) $(DDAGENT_ENV)/pyproject.toml $(DDAGENT_ENV)/uv.lock
	$(UV) sync --locked --project $(DDAGENT_ENV) --quiet
	touch $@

demo: setup
	$(VENV)/bin/ledger demo

# `make test` is what CI runs (.ci/run): lint first (ruff, mypy strict, the layer rule), then
# the whole suite (which includes tests/test_layers.py). `ruff format --check` is not part of it
# yet: the tree is not formatter-clean.
test: lint $(SK_ENV)/.venv/.synced $(PHOENIX_ENV)/.venv/.synced $(DDAGENT_ENV)/.venv/.synced
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python tests/layering.py --check

# make bench ARGS="--against ../base" compares with another checkout (see bench/run_all.py)
bench: setup
	$(VENV)/bin/python bench/run_all.py $(ARGS)
