# Two entry points: `make run` (install, check the bundled examples, serve the App on SQLite)
# and `make test` (install with the test tools, run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# Dependencies come from the lock (hashes checked); the project itself is installed editable.
$(BIN)/footgun: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

.PHONY: install run examples test lint lock docs
install: $(BIN)/footgun

run: install examples
	$(BIN)/footgun serve --host 127.0.0.1 --port $(PORT)

# What the bundled examples find: the footguns on purpose (exit 1 there is the point, not a failure).
examples: install
	@$(BIN)/footgun check examples/ || test $$? -eq 1

test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Refresh the locks after changing dependencies in pyproject.toml (universal: every platform).
lock: install
# Both locks hold the `helm` extra (the Helm SDK): the image, `make run` and `make test` render charts.
	$(BIN)/uv pip compile pyproject.toml --extra helm --generate-hashes --universal \
		--python-version 3.11 --quiet --output-file requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra helm --generate-hashes --universal \
		--python-version 3.11 --quiet --output-file requirements-dev.lock

# Regenerate the docs generated from code: docs/rules.md, the README's rule and settings tables,
# the settings table of docs/deploy.md.
docs: install
	$(BIN)/python scripts/regenerate_docs.py
