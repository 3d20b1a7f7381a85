# Two entry points, each on a fresh machine with Python 3.11 and PyPI:
#   make demo   builds the models and runs the end-to-end demo
#   make test   runs the test suite (installs torch + timm for the parity tests)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2
# setuptools warns on every editable install that a folder is named like the package (it is:
# this checkout); nothing to act on.
PIP := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.base: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) install -q -e ".[test,export,data]"
	touch $@

$(VENV)/.demo: $(VENV)/.base
	$(PIP) install -q -e ".[data]"
	touch $@

demo: $(VENV)/.demo
	$(BIN)/python applications/demo.py

test: $(VENV)/.test
	$(BIN)/python -m pytest -q -n 2 --durations=25 tests

clean:
	rm -rf $(VENV) *.egg-info
