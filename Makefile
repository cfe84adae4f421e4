# Every target works on a fresh machine: `setup` builds the virtualenv on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE   ?= content
N      ?= 10000
# Debian keeps PostgreSQL's server programs under its major version (15 on bookworm).
POSTGRES     := $(or $(firstword $(wildcard /usr/lib/postgresql/*/bin/postgres)),/usr/lib/postgresql/15/bin/postgres)
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/redis-server $(POSTGRES)
BENCH_TOOLS  := /usr/bin/wrk
BENCH_ARGS   ?=

.PHONY: setup serve test bench lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: setup
	$(BIN)/vellum serve $(SITE)

test: setup $(SYSTEM_TOOLS)
	$(BIN)/python -m pytest

# Tests drive Debian's Chromium (the admin page; Playwright never downloads a browser),
# a real Redis (rate limits shared by several processes) and a real PostgreSQL (state
# shared by several machines); the tests start private servers of their own.
$(SYSTEM_TOOLS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium redis-server postgresql > /dev/null

# `make bench N=2000 BENCH_ARGS=--quick` for short loads.
bench: setup $(BENCH_TOOLS)
	$(BIN)/python -m tests.bench --records $(N) $(BENCH_ARGS)

# The benchmark loads the servers over HTTP with Debian's wrk.
$(BENCH_TOOLS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
