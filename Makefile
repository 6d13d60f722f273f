# The two commands: `make run` (serve in embedded mode) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install worker openapi lint clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to 2.13.0 in pyproject.toml; install it first on its own so the pin is what resolves.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The Python client and the `kinora generate` command (its own package: no torch, no server).
	$(BIN)/python -m pip install --quiet -e clients/python
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kinora serve

worker: $(STAMP)
	$(BIN)/kinora worker

test: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest

openapi: $(STAMP)
	$(BIN)/python scripts/export_openapi.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
