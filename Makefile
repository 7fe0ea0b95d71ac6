# Sourcier — every target sets itself up on a fresh machine (venv, torch CPU first, model, index).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export OPENBLAS_NUM_THREADS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup model index serve test test-fast lint eval bench clean

# torch==2.13.0 first: it is the CPU build on this machine's disk; installed later by
# sentence-transformers' requirements pip would pull a multi-GB CUDA build instead.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	touch $@

setup: $(STAMP)

model: setup
	$(BIN)/sourcier fetch-model

index: model
	$(BIN)/sourcier build

serve: index
	$(BIN)/sourcier serve

test: model
	$(BIN)/pytest

# Everything not marked slow: the unit tests and the reliability tests that need no real model.
test-fast: setup
	$(BIN)/pytest -m "not slow"

# Lint (ruff), format check (ruff format) and types (mypy); settings in pyproject.toml. Run by CI.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Quality gate (run by CI after the tests): faithfulness must be 100 % and no score may fall under
# its regression floor; the reports are kept under artifacts/eval/.
eval: model
	$(BIN)/sourcier eval --set seed --check --quiet --json artifacts/eval/seed.json --html artifacts/eval/seed.html
	$(BIN)/sourcier eval --set piaf-ci --check --quiet --json artifacts/eval/piaf-ci.json --html artifacts/eval/piaf-ci.html

# Speed benchmarks (not run by CI; 1–2 hours on 2 cores): bench/results/*.json and bench/results/README.md.
# BENCH_ARGS, e.g. --only query,http or --runtime onnx: see python -m bench.run --help.
bench: model
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var/index
