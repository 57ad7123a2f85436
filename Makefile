# Two entry points: `make run` (install, check the bundled examples, serve the App on SQLite)
# and `make test` (install with the test tools, run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

$(BIN)/footgun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,helm]'
	touch $@

.PHONY: install run test lint
install: $(BIN)/footgun

run: install
	-$(BIN)/footgun check examples/
	$(BIN)/footgun serve --host 127.0.0.1 --port $(PORT)

test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
