# Two entry points for a fresh machine: `make demo` (the main job end to end) and
# `make test` (lint, types and the test suite). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORLD ?= work/world
SEED ?= 7
ACCOUNTS ?= 2000
PORT ?= 8000
REPORT ?= work/report
# Test processes: two keep both cores of the reference machine busy (LightGBM runs on one
# thread); tests of one file stay in one process, so module fixtures are built once.
JOBS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile

.PHONY: setup demo test test-fast lint screenshots

$(BIN)/influence: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/influence  ## create .venv and install influence with its test tools

demo: setup  ## simulate, validate, train, compare, then serve the champion from its snapshot, with its app (Ctrl-C stops it)
	$(BIN)/influence simulate --out $(WORLD) --accounts $(ACCOUNTS) --seed $(SEED)
	$(BIN)/influence validate $(WORLD)
	$(BIN)/influence train $(WORLD) --seed $(SEED) --promote
	$(BIN)/influence compare $(WORLD) --out $(REPORT)
	@echo "The app (plan a campaign, vet an account) will be at http://127.0.0.1:$(PORT)/app/"
	$(BIN)/influence serve --port $(PORT)

lint: setup  ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# mypy runs inside the suite (tests/test_types.py), beside the other process's tests.
test: setup  ## ruff, then the whole test suite with mypy in it; pytest's "no tests ran" (exit 5) fails too
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

test-fast: setup  ## the inner loop: the tests that neither train a model nor start a server
	$(PYTEST) -m "not slow and not model"

screenshots: setup  ## docs/screenshots/*.png of the pages, from the demo's world and champion (after `make demo`)
	$(BIN)/python benchmarks/screenshots.py --data $(WORLD) --out docs/screenshots
