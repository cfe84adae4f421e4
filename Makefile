# Every target works on a fresh machine: `setup` builds the virtualenv on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE   ?= content
N      ?= 10000
CHROMIUM := /usr/bin/chromium

.PHONY: setup serve test bench lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: setup
	$(BIN)/vellum serve $(SITE)

test: setup $(CHROMIUM)
	$(BIN)/python -m pytest

# The admin page's browser test drives Debian's Chromium (Playwright never downloads one).
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

bench: setup
	$(BIN)/python -m tests.bench --records $(N)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
