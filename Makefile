# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each step leaves a stamp file, so running them again does no work twice.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp

.PHONY: demo test test-fast bench lint install fluidsynth chromium clean

install: $(STAMP)-package

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: the CPU build of 2.13 lies on this kind of machine; a bare `torch` would
# pull gigabytes of CUDA build.
$(STAMP)-torch: $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	touch $@

$(STAMP)-package: $(STAMP)-torch pyproject.toml
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# FluidSynth is a system library: installed here when possible, else one line says how.
fluidsynth:
	@$(BIN)/python -c "import fluidsynth" 2>/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq libfluidsynth3 >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq libfluidsynth3 >/dev/null)); \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get install -y -qq libfluidsynth3 >/dev/null; \
	elif command -v brew >/dev/null; then \
		brew install fluid-synth; \
	else \
		echo "musegen: install the FluidSynth library (libfluidsynth3 / fluid-synth) for audio"; \
	fi

# Chromium and its driver for the studio's browser test (tests/test_serve_browser.py skips,
# with a message, without them): installed here when possible, else one line says how.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null)) || \
		echo "musegen: could not install chromium; the studio's browser test will be skipped"; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get install -y -qq chromium chromium-driver >/dev/null || \
		echo "musegen: could not install chromium; the studio's browser test will be skipped"; \
	else \
		echo "musegen: install chromium and chromium-driver to run the studio's browser test (skipped)"; \
	fi

test: install fluidsynth chromium
	$(BIN)/python -m pytest -q

# The quick tier while editing: no corpus build, no training fixture.
test-fast: install fluidsynth
	$(BIN)/python -m pytest -q -m "not slow"

demo: install fluidsynth
	$(BIN)/python examples/demo.py
	@echo "Open the studio in your browser: $(BIN)/musegen serve   (http://127.0.0.1:8765)"

bench: install
	$(BIN)/pip install -q -e ".[dev,bench]"
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/generate_speed.py
	$(BIN)/python benchmarks/render_speed.py

lint: install
	$(BIN)/ruff check musegen tests benchmarks examples
	$(BIN)/ruff format --check musegen tests benchmarks examples

clean:
	rm -rf $(VENV) out
