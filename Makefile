# newswatch — thin targets; each calls a script or the CLI. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
NW := $(VENV)/bin/newswatch

.PHONY: install demo run stop test test-unit test-integration bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	scripts/install.sh
	@touch $@

demo: install
	scripts/demo.sh demo

run: install
	scripts/demo.sh run

stop:
	$(NW) stack down

test: install
	scripts/test.sh

test-unit: install
	$(PY) -m pytest tests/unit tests/dags -q

bench: install
	scripts/bench.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean: stop
	rm -rf var
