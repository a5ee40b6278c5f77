# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_UI_ENABLED ?= false
export DO_NOT_TRACK := 1

.PHONY: demo test lint unit bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/billing demo

lint: $(STAMP)
	$(BIN)/ruff check billing flows tasks tests benchmarks
	$(BIN)/ruff format --check billing flows tasks tests benchmarks
	$(BIN)/mypy billing flows tasks
	$(BIN)/lint-imports

# the suite runs on every core, one PostgreSQL database per worker (tests/conftest.py)
TEST_WORKERS ?= auto

test: $(STAMP) lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP)  ## every script in benchmarks/ (ingest, rating, invoicing, preview, rollups, lifecycle, ...)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
