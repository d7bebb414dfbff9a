# One task runner: make up | test | lint | bench | soak
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test soak test-deps lint format bench bench-bindings bench-delivery bench-observe bench-edge bench-deps install clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the platform on the embedded default (SQLite + local files) with the example app deployed.
up: install
	$(BIN)/edgeplane serve --deploy examples/prompt-lab --env production

## The whole test suite; soak/load tests marked `slow` run in their bounded form (e.g. 96 MiB, not 1 GiB).
test: install test-deps
	$(BIN)/python -m pytest -q -m "not slow"

## The full-size soak/load tests (1 GiB object streaming through every R2 backend, …).
soak: install test-deps
	$(BIN)/python -m pytest -q -m slow

## Real servers the tests start on 127.0.0.1 (Debian packages).
test-deps:
	@command -v redis-server >/dev/null || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

lint: install
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

## Benchmarks need NGINX and wrk from Debian's packages.
bench-deps:
	@command -v nginx >/dev/null && command -v wrk >/dev/null || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light wrk >/dev/null; }

bench: install bench-deps
	$(BIN)/python bench/proxy.py

## Bindings: KV get vs raw sqlite3/redis-py; Analytics ingest and query vs plain DuckDB.
bench-bindings: install test-deps
	$(BIN)/python bench/bindings.py
	$(BIN)/python bench/analytics.py

## Progressive delivery: canary detection and rollback time under 200 req/s, false rollbacks (~15 min).
bench-delivery: install
	$(BIN)/python bench/delivery.py

## Observability: gateway throughput with it on vs off, alert rule evaluation, /metrics scrape (~3 min).
bench-observe: install bench-deps
	$(BIN)/python bench/observe.py

## Edge: cache HIT vs NGINX proxy_cache, the full WAF/rate-limit/JWT pipeline vs the bare proxy (~3 min).
bench-edge: install bench-deps
	$(BIN)/python bench/edge.py

clean:
	rm -rf $(VENV) .edgeplane build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
