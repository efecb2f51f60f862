# Deepfake-detection experiment suite. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is capped at the newest release this project's machines carry on disk (2.14.1, a CUDA
# build that also runs on CPU); one pip call resolves it with the suite. Another build, e.g.
#   make setup TORCH_SPEC="torch==2.14.1 torchvision==0.29.1 --extra-index-url https://download.pytorch.org/whl/cu126"
TORCH_SPEC ?= "torch>=2.2,<=2.14.1" "torchvision>=0.17,<=0.29.1"
SMOKE := --config experiments/dual_level.yaml --config experiments/smoke/dual_level.yaml
DEMO_RUN ?= demo

SCALE ?= smoke
# e.g. make reproduce-tables SCALE=full DATA_ROOT=/datasets REPRODUCE_ARGS="--jobs 1 -- --trainer.devices=4"
DATA_ROOT ?=
REPRODUCE_ARGS ?=

.PHONY: help setup demo test test-all lint typecheck bench bench-data bench-detectors reproduce-tables readme-tables clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC) -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the suite with its dev tools

demo: $(STAMP) ## Train and test DualLevelAUCNet on the synthetic set on CPU, print test metrics
	$(VENV)/bin/lightning fit $(SMOKE) --run_name $(DEMO_RUN)
	$(VENV)/bin/lightning test $(SMOKE) --run_name $(DEMO_RUN) --ckpt_path best

test: $(STAMP) ## Run the test suite (what CI runs)
	$(PY) -m pytest -q

test-all: $(STAMP) ## Run the test suite including tests marked slow
	$(PY) -m pytest -q -m "slow or not slow"

lint: $(STAMP) ## Check style with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## Static type check with mypy
	$(VENV)/bin/mypy

bench: $(STAMP) ## Time metrics vs scikit-learn and the O(n log n) AUC loss vs pairwise (ratios printed)
	$(PY) bench/metrics_bench.py --n 1000000
	$(PY) bench/losses_bench.py

bench-data: $(STAMP) ## Frames/s of the frame and clip train loaders per num_workers, vs one H100's need
	$(PY) bench/data_bench.py $(BENCH_DATA_ARGS)

bench-detectors: $(STAMP) ## Training frames/s of every paper config beside its bare backbone's (GPU: BENCH_DETECTOR_ARGS="--device cuda")
	$(PY) bench/detector_bench.py $(BENCH_DETECTOR_ARGS)

reproduce-tables: $(STAMP) ## Run every experiment behind the papers' tables (SCALE=smoke|full), draw the tables
	$(PY) -m reproduce --scale $(SCALE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(REPRODUCE_ARGS)

readme-tables: $(STAMP) ## Copy the rendered smoke tables into README.md and docs/smoke_tables.md
	$(PY) -m reproduce.readme

clean: ## Remove generated data, runs and results (keeps .venv)
	rm -rf data runs results wandb
