# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint venv services system-deps bench

$(BIN)/linewatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,test]'
	@touch $@

venv: $(BIN)/linewatch

demo: venv
	$(BIN)/linewatch demo

services:
	@bash scripts/services.sh

system-deps:
	@bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy --strict spc

test: venv system-deps services lint
	@bash scripts/node-peers.sh
	$(BIN)/python -m pytest

bench: venv services
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
