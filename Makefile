# `make demo` and `make test` each set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean benchmark bundle ui

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/orch materialize --exclude revenue_digest
	$(BIN)/orch backfill --select "marts/fct_daily_revenue+" --from 2024-12-01 --to 2024-12-31
	$(BIN)/orch partitions status revenue_digest
	$(BIN)/orch lineage --select "+revenue_forecast"
	$(BIN)/orch runs list --limit 5

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The web UI's bundle (orchestrator/web/static/, committed: pip users need no node) from its sources.
FRONTEND := orchestrator/web/frontend
bundle:
	cd $(FRONTEND) && npm ci --no-audit --no-fund && node build.mjs

ui: $(STAMP)
	$(BIN)/orch ui

benchmark: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) .orch .pytest_cache
