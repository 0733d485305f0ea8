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

# The tests that hold on every backend run again on JAX and PyTorch, with TensorFlow made unfindable as if it
# were not installed (tests/block_tensorflow.py).
BACKEND_TESTS := tests/test_detector_contract.py tests/test_backends.py tests/test_backends_data.py \
	tests/test_autoencoder.py tests/test_vae.py tests/test_padim.py tests/test_patchcore.py tests/test_memory.py \
	tests/test_distributed.py tests/test_resume.py tests/test_export.py tests/test_best_validation_epoch.py \
	tests/test_ssim_autoencoder.py

test: venv
	$(PY) -m pytest -q tests
	KERAS_BACKEND=jax KERAS_ONECLASS_BLOCK_TENSORFLOW=1 $(PY) -m pytest -q -p no:cacheprovider $(BACKEND_TESTS)
	KERAS_BACKEND=torch KERAS_ONECLASS_BLOCK_TENSORFLOW=1 $(PY) -m pytest -q -p no:cacheprovider $(BACKEND_TESTS)

demo: venv
	$(PY) examples/wood_surface.py --out out/wood_surface

bench: venv
	$(PY) -m benchmarks dasvdd_paper

clean:
	rm -rf $(VENV) build *.egg-info
