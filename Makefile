# The two commands of the README: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-latest bench docs lock lock-upgrade clean

demo:
	@scripts/setup.sh demo
	$(PY) -m pacsys_rx demo --throwaway-realm

test:
	@scripts/setup.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

# The suite against the newest releases pyproject.toml allows (no lock), in .venv-latest: finds drift
# on purpose before `make lock`. Not part of `make test` or CI.
test-latest:
	@scripts/setup.sh latest
	.venv-latest/bin/python -m pytest

bench:
	@scripts/setup.sh bench
	$(PY) benchmarks/run_all.py

docs:
	@scripts/setup.sh test
	$(VENV)/bin/mkdocs build --strict

# Re-resolve requirements/*.txt keeping the pins that still fit, or taking the newest releases
# (see scripts/lock.sh for when).
lock:
	@scripts/lock.sh

lock-upgrade:
	@scripts/lock.sh --upgrade

clean:
	rm -rf $(VENV) .venv-latest .venv-lock site .pytest_cache .mypy_cache .ruff_cache
