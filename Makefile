# `make demo` runs the flagship example, `make test` the test suite, `make bench` the benchmarks.
# Each target creates .venv on first use and installs the package with its dependencies into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED_DATA ?= $(abspath ../shared/data)
export KERAS_ONECLASS_DATA ?= $(SHARED_DATA)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv test demo bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q tests

demo: venv
	$(PY) examples/wood_surface.py --out out/wood_surface

bench: venv
	$(PY) benchmarks/dasvdd_paper.py

clean:
	rm -rf $(VENV) build *.egg-info
