# Two commands for a new user: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlcheck-installed
# torch is installed first, only when the venv has none: a bare `torch` requirement would pull a
# multi-GB CUDA build. Set TORCH_SPEC (e.g. `make demo TORCH_SPEC=torch`) to choose another build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint format bench bench-gpu clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dlcheck babysit recipes/digits_mlp.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check dlcheck tests benchmarks
	$(BIN)/ruff format --check dlcheck tests benchmarks
	$(BIN)/mypy dlcheck

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

# On a machine with CUDA: steps/s, images/s and peak memory, fp32 vs bf16-mixed.
bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/gpu_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .mypy_cache
