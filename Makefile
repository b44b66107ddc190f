# Bootstraps .venv on first use; every target below works on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mdlkit demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/python -m pytest -n auto --maxprocesses=4 --dist loadfile src tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(VENV)/bin/python benchmarks/coding_throughput.py
	$(VENV)/bin/python benchmarks/demo_timing.py
	$(VENV)/bin/python benchmarks/step_overhead.py
	$(VENV)/bin/python benchmarks/digits_codelength.py
	$(VENV)/bin/python benchmarks/compress_table.py

clean:
	rm -rf $(VENV)
