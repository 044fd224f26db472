# rewardpipe: every target is a thin call to the setup script, DVC, pytest or the CLI.
# Variables: RUN=name (monitor), RUNS="a b" (monitor-compare), RUN_NAME=name (train*),
# ARGS="..." (extra CLI options), REPO_ID=user/name (deploy*), DATA_PATH=dir (prepare-* from files),
# DECODER=hub-id-or-folder (train-full).
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
CLI   := $(BIN)/rewardpipe
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Stage commands say `python`: the venv's must come first.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Targets that download from the Hugging Face Hub lift the offline default for themselves only.
ONLINE := HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0
NAME_OPT = $(if $(RUN_NAME),--run-name $(RUN_NAME))
# train-full's backbone: a Hub id (or a local Hugging Face folder); pin it with ARGS="-S model.revision=..."
DECODER ?= Qwen/Qwen2.5-0.5B-Instruct
# The small config (also used by the pull-request workflow): minutes on a laptop CPU.
SMALL := -S prepare.synthetic_train=400 -S prepare.synthetic_test=60 -S prepare.vocab_size=1000 \
	-S model.d_model=64 -S model.n_layers=1 -S model.d_ff=256 -S model.max_len=256 \
	-S train.steps=100 -S train.warmup_steps=10 -S train.eval_every=50 -S train.save_every=50

.PHONY: help install install-dev setup quickstart format lint lint-security test test-quick dev \
	pre-commit prepare-gsm8k prepare-openrubrics train-small train train-full evaluate-quick \
	evaluate grpo grpo-smoke sample deploy deploy-private monitor monitor-compare logs status repro clean clean-all version

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

install: ## create .venv with the pinned runtime dependencies
	scripts/setup.sh

install-dev: ## .venv with runtime + test/lint tools
	scripts/setup.sh dev

setup: install-dev ## install-dev, then the git pre-commit hook
	@if [ -d .git ]; then $(BIN)/pre-commit install; fi

quickstart: install ## set up and run the whole pipeline on the built-in data (offline)
	$(BIN)/dvc repro

repro: ## dvc repro (the pipeline)
	$(BIN)/dvc repro

test: install-dev ## set up and run every test (unit + end-to-end dvc runs)
	$(BIN)/pytest -q -n auto --dist loadfile

test-quick: ## unit tests only (skips the end-to-end dvc runs)
	$(BIN)/pytest -q -n auto --dist loadfile -m "not slow"

lint: ## ruff check + format check
	$(BIN)/ruff check src stages tests benchmarks
	$(BIN)/ruff format --check src stages tests benchmarks

lint-security: ## bandit, medium and high severity (settings in .bandit)
	$(BIN)/bandit --ini .bandit -q -ll -r

format: ## ruff format + autofix
	$(BIN)/ruff format src stages tests benchmarks
	$(BIN)/ruff check --fix src stages tests benchmarks

dev: format lint test-quick ## the edit loop: format, lint, quick tests

pre-commit: ## every pre-commit hook on every file (offline: local hooks only)
	$(BIN)/pre-commit run --all-files

prepare-gsm8k: ## GSM8K into data/gsm8k (Hub, or DATA_PATH=folder of local files)
	$(ONLINE) $(CLI) dataset prepare --config gsm8k --output-dir data/gsm8k $(if $(DATA_PATH),--path $(DATA_PATH)) $(ARGS)

prepare-openrubrics: ## OpenRubrics into data/openrubrics (Hub, or DATA_PATH=...)
	$(ONLINE) $(CLI) dataset prepare --config openrubrics --output-dir data/openrubrics $(if $(DATA_PATH),--path $(DATA_PATH)) $(ARGS)

train-small: ## experiment with the small config (RUN_NAME=, ARGS=)
	$(CLI) train $(NAME_OPT) $(SMALL) $(ARGS)

train: ## experiment with params.yaml as it is (RUN_NAME=, ARGS=)
	$(CLI) train $(NAME_OPT) $(ARGS)

train-full: ## experiment on the real GSM8K: a pretrained decoder LM + LoRA (DECODER=hub-id; GPU/TPU)
	$(ONLINE) $(CLI) train $(NAME_OPT) --dataset gsm8k --steps 2000 --lr 1e-4 --lora-rank 16 \
		-S model.backbone=decoder -S model.pretrained=$(DECODER) -S model.max_len=512 \
		-S model.remat=true -S train.precision=bfloat16 -S train.warmup_steps=100 \
		-S train.eval_every=250 -S train.save_every=250 $(ARGS)

evaluate-quick: ## 50 test prompts, outside the pipeline -> results/eval-quick.json
	$(CLI) evaluate --num-samples 50 --output results/eval-quick.json $(ARGS)

evaluate: ## the evaluate stage as an experiment (dvc exp run evaluate)
	$(CLI) evaluate $(NAME_OPT) $(ARGS)

grpo: ## the optional GRPO pipeline as an experiment (pipelines/grpo; RUN_NAME=, ARGS="-S grpo.steps=...")
	$(BIN)/dvc exp run $(if $(RUN_NAME),-n $(RUN_NAME)) $(ARGS) pipelines/grpo/dvc.yaml

grpo-smoke: ## GRPO on a tiny random policy learning a toy reward (~30 steps, CPU) -> metrics/grpo
	$(BIN)/python stages/grpo.py --params pipelines/grpo/smoke.yaml --out models/grpo/policy \
		--checkpoints models/grpo/checkpoints/smoke --metrics metrics/grpo --eval metrics/grpo/eval.json \
		--work models/grpo/work --no-progress

sample: ## the optional sample pipeline as an experiment (pipelines/sample; RUN_NAME=, ARGS="-S sample.n=...")
	$(BIN)/dvc exp run $(if $(RUN_NAME),-n $(RUN_NAME)) $(ARGS) pipelines/sample/dvc.yaml

deploy: ## push models/model to the Hub: REPO_ID=user/name
	$(if $(REPO_ID),,$(error set REPO_ID=user/name))
	$(ONLINE) $(CLI) deploy --checkpoint models/model --repo-id $(REPO_ID) $(ARGS)

deploy-private: ## like deploy, as a private repo
	$(if $(REPO_ID),,$(error set REPO_ID=user/name))
	$(ONLINE) $(CLI) deploy --checkpoint models/model --repo-id $(REPO_ID) --private $(ARGS)

monitor: ## curves and metrics of a run: RUN=experiment (default: workspace)
	$(CLI) monitor $(if $(RUN),--run $(RUN)) $(ARGS)

monitor-compare: ## compare experiments: RUNS="exp-a exp-b"
	$(if $(RUNS),,$(error set RUNS="exp-a exp-b"))
	$(CLI) monitor --compare $(RUNS) $(ARGS)

logs: ## the last run: curve statistics and the evaluation report
	$(CLI) monitor --no-plots
	@if [ -f metrics/eval/report.md ]; then cat metrics/eval/report.md; fi

status: ## pipeline status and the experiments table
	$(BIN)/dvc status
	$(BIN)/dvc exp show --no-pager --only-changed

clean: ## remove pipeline outputs (keeps checkpoints)
	rm -rf data/prepared models/model models/export metrics/train metrics/eval metrics/eval.json metrics/headline.json metrics/publish.json results cml \
		models/grpo/policy models/grpo/work metrics/grpo

clean-all: clean ## also remove checkpoints, caches and the venv
	rm -rf models $(VENV) .pytest_cache .ruff_cache

version: ## versions of rewardpipe, DVC and Python
	@$(CLI) --version
	@$(BIN)/dvc --version | sed 's/^/dvc /'
	@$(BIN)/python --version
