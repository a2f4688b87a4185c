# muxsim: every target creates .venv and installs the project first.
#   make test     mypy (strict), ruff, pytest
#   make report   the catalogue graded on the kernel, the model and the textbook model;
#                 reports/index.html, summary.md, results.json, junit.xml
#   make bench    pytest-benchmark suite (JSON in reports/bench/)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint typecheck pytest report bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check .

pytest: $(STAMP)
	$(BIN)/pytest --benchmark-disable

bench: $(STAMP)
	mkdir -p reports/bench
	$(BIN)/pytest tests/bench --benchmark-only --benchmark-json=reports/bench/latest.json -s

test: typecheck lint pytest

report: $(STAMP)
	$(BIN)/muxsim report --out reports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
