# Two entry points: `make run` (install, then check the bundled examples) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/footgun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install run test
install: $(BIN)/footgun

run: install
	-$(BIN)/footgun check examples/

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
