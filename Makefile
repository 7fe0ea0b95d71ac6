# Sourcier — every target sets itself up on a fresh machine (venv, torch CPU first, model, index).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export OPENBLAS_NUM_THREADS := 1
export TOKENIZERS_PARALLELISM := false

LOCK   := requirements.lock
PIP    := $(BIN)/pip --disable-pip-version-check
PIP_TOOLS := pip-tools==7.7.0

.PHONY: setup model index serve test test-fast research-test lint lock eval bench image clean

# torch==2.13.0 first: it is the CPU build on this machine's disk; installed later by
# sentence-transformers' requirements pip would pull a multi-GB CUDA build instead. Then every other
# package at the version of requirements.lock (the runtime, test and lint dependencies; torch is left
# out of it), then Sourcier itself without resolving anything, and `pip check` that nothing is missing.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r $(LOCK)
	$(PIP) install --quiet --no-deps -e .
	$(PIP) check
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

# The container image, as sourcier:local (deploy/image/build.sh: the base made locally when no registry
# answers, the model taken from `make model`'s cache when there and verified again).
image: model
	bash deploy/image/build.sh $(IMAGE_ARGS)

# The experiments' tests (research/: measured and dropped, not part of the product; fake encoders, a minute).
research-test: setup
	$(BIN)/pytest research/tests

# Lint, format check and types (run by CI before the tests): ruff and mypy, configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Re-resolve requirements.lock from pyproject.toml (after changing a dependency, or to take upgrades:
# `make lock LOCK_ARGS=--upgrade`, or one package: LOCK_ARGS="--upgrade-package fastapi"). Resolves for
# this Python (3.11) on Linux x86_64; torch stays out of the lock (pinned in pyproject.toml, installed
# first by setup). Needs only a venv with pip-tools, not the locked packages, so it works when the lock
# is out of date. Review the diff, then `make test lint eval`.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(PIP_TOOLS)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra test --extra lint --extra postgres --extra ray --strip-extras \
	  --no-emit-index-url --no-emit-find-links --unsafe-package torch $(LOCK_ARGS) --output-file $(LOCK) \
	  pyproject.toml

# Quality gate (run by CI after the tests): faithfulness must be 100 % and no score may fall under
# its regression floor, and each corpus's own abstention threshold and confident margin must hold with the
# rule chosen on the other corpora (leave-one-corpus-out, eval/abstention.py, eval/confidence.py); the JSON and HTML reports are kept under artifacts/eval/.
# The Markdown tables go to eval/results/ (in git: the README links them; commit them after a change).
eval: model
	$(BIN)/sourcier eval --set seed --check --quiet --json artifacts/eval/seed.json --html artifacts/eval/seed.html \
	  --markdown eval/results/seed.md
	$(BIN)/sourcier eval --set piaf-ci --check --quiet --json artifacts/eval/piaf-ci.json \
	  --html artifacts/eval/piaf-ci.html --markdown eval/results/piaf-ci.md
	$(BIN)/sourcier eval --set service-public-ci --check --quiet --json artifacts/eval/service-public-ci.json \
	  --html artifacts/eval/service-public-ci.html --markdown eval/results/service-public-ci.md
	$(BIN)/sourcier eval --set cdtn --check --quiet --json artifacts/eval/cdtn.json --html artifacts/eval/cdtn.html \
	  --markdown eval/results/cdtn.md
	$(BIN)/python -m eval.abstention --check --json artifacts/eval/abstention.json --markdown eval/results/abstention.md
	$(BIN)/python -m eval.confidence --check --scores artifacts/eval/abstention.json --markdown eval/results/confidence.md

# Speed benchmarks (not run by CI; 1–2 hours on 2 cores): bench/results/*.json and bench/results/README.md.
# BENCH_ARGS, e.g. --only query,http or --runtime onnx: see python -m bench.run --help.
bench: model
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var/index
