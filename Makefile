# The two commands of the README: `make run` serves the platform, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint migrate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

# pgserver's pgvector was built for CPUs with AVX-512; rebuild it portable (tools/portable-pgvector.sh says why).
$(VENV)/.pgvector-portable: $(VENV)/.installed tools/portable-pgvector.sh
	tools/portable-pgvector.sh $(BIN)/python
	touch $@

$(VENV)/.installed-dev: $(VENV)/.pgvector-portable
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.pgvector-portable
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/vocalis migrate

run: migrate
	$(BIN)/vocalis serve --host 127.0.0.1 --port 8000

lint: install-dev
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest
