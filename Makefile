# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_UI_ENABLED ?= false
export DO_NOT_TRACK := 1

.PHONY: demo test lint unit bench install browser clean

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

# the console's browser test drives Debian's chromium (Playwright's own browser download is not
# used); installed here when missing, as root (CI) or through sudo, with the fonts and HarfBuzz-Subset
# the invoice PDFs print with
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium fonts-dejavu-core libharfbuzz-subset0; }

test: $(STAMP) lint browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP)  ## every script in benchmarks/ (ingest, rating, invoicing, preview, rollups, lifecycle, ...)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
