# The two commands of the README: `make run` and `make test`.
# Both create .venv and install the project with every extra into it on a
# fresh machine (`pip install .` alone is the light core: engine and client).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/streamlit run serve_app.py --server.address 127.0.0.1

serve: install
	$(VENV)/bin/toolkit serve

test: install
	$(PY) -m pytest

# The checks CI runs (also run by tests/test_lint.py): ruff's rule set and mypy's, both in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
