# The two commands of the README: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint docs clean

demo:
	@scripts/setup.sh demo
	$(PY) -m pacsys_rx demo

test:
	@scripts/setup.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench:
	@scripts/setup.sh bench
	$(PY) benchmarks/run_all.py

docs:
	@scripts/setup.sh test
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
