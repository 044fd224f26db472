# rewardpipe: every target is a thin call to the setup script, DVC, pytest or the CLI.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help install install-dev setup quickstart test test-quick lint format repro clean clean-all

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

install: ## create .venv with the pinned runtime dependencies
	scripts/setup.sh

install-dev: ## .venv with runtime + test/lint tools
	scripts/setup.sh dev

setup: install-dev ## alias of install-dev

quickstart: install ## set up and run the whole pipeline on the built-in data (offline)
	$(BIN)/dvc repro

repro: ## dvc repro (the pipeline)
	$(BIN)/dvc repro

test: install-dev ## set up and run every test (unit + end-to-end dvc runs)
	$(BIN)/pytest -q

test-quick: ## unit tests only (skips the end-to-end dvc runs)
	$(BIN)/pytest -q -m "not slow"

lint: ## ruff check + format check
	$(BIN)/ruff check src stages tests benchmarks
	$(BIN)/ruff format --check src stages tests benchmarks

format: ## ruff format + autofix
	$(BIN)/ruff format src stages tests benchmarks
	$(BIN)/ruff check --fix src stages tests benchmarks

clean: ## remove pipeline outputs (keeps checkpoints)
	rm -rf data/prepared models/model models/export metrics/train metrics/eval metrics/eval.json metrics/publish.json

clean-all: clean ## also remove checkpoints, caches and the venv
	rm -rf models $(VENV) .pytest_cache .ruff_cache
