# muxsim: every target creates .venv and installs the project first.
#   make test     mypy (strict), ruff, pytest
#   make report   the catalogue graded on the kernel, the model and the textbook model;
#                 reports/index.html, summary.md, results.json, junit.xml
#   make bench    pytest-benchmark suite (JSON in reports/bench/)
#   make compiled the model's hot path compiled by mypyc (install, test and bench
#                 build it when the sources changed; without a C compiler the
#                 model runs as Python)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install compiled test lint typecheck pytest report bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) compiled

compiled: $(STAMP)
	$(BIN)/muxsim compile --if-stale || echo "warning: no compiled model; the model runs as Python"

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check .

pytest: $(STAMP) compiled
	$(BIN)/pytest --benchmark-disable

bench: $(STAMP) compiled
	mkdir -p reports/bench
	$(BIN)/pytest tests/bench --benchmark-only --benchmark-json=reports/bench/latest.json -s

test: typecheck lint pytest

report: $(STAMP)
	$(BIN)/muxsim report --out reports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
