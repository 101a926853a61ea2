# Two commands for a new user: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlcheck-installed
# torch is installed first, only when the venv has none: a bare `torch` requirement would pull a
# multi-GB CUDA build. Set TORCH_SPEC (e.g. `make demo TORCH_SPEC=torch`) to choose another build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-fast lint format bench bench-gpu fuzz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dlcheck babysit recipes/digits_mlp.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

# Everything but the tests marked slow (torchrun launches, a real Lightning run, the full checklist).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check dlcheck tests benchmarks
	$(BIN)/ruff format --check dlcheck tests benchmarks
	$(BIN)/mypy dlcheck
	$(BIN)/lint-imports --no-logo --no-cache

format: $(STAMP)
	$(BIN)/ruff format dlcheck tests benchmarks
	$(BIN)/ruff check --fix dlcheck tests benchmarks

bench: $(STAMP)
	@$(BIN)/python -c "import torch_lr_finder, pytorch_lightning" 2>/dev/null || $(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/train_loop.py
	$(BIN)/python benchmarks/anms.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/babysit.py
	$(BIN)/python benchmarks/curves.py
	$(BIN)/python benchmarks/lr_speed.py
	$(BIN)/python benchmarks/lr_quality.py
	$(BIN)/python benchmarks/data_sanity_false_alarms.py
	$(MAKE) fuzz

# Hostile recipes, logs and images through the CLI, each in its own capped subprocess (issue 12):
# prints tracebacks, timeouts, over-memory runs and clean exits by code. About 10 minutes on 2 cores.
fuzz: $(STAMP)
	$(BIN)/python benchmarks/fuzz.py

# On a machine with CUDA: dlcheck vs a hand-written loop vs Lightning, host syncs per step from a profiler
# trace, throughput by precision and option, babysit/lr-find in bf16, then the gpu-marked tests and the suite.
bench-gpu: $(STAMP)
	PYTHON=$(BIN)/python bash benchmarks/gpu_check.sh gpu-check-out

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .mypy_cache
