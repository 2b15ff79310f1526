# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest docs bench bench-attribution bench-kpis bench-rewards clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml tests/plugins/attribution_example/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "smarketing needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e tests/plugins/attribution_example
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smarketing demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

test: lint typecheck pytest docs

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Times smarketing against ChannelAttribution and marketing-attribution-models (installed by the script in
# benchmarks/.venv-attribution, never project dependencies) and writes docs/performance.md.
bench-attribution: $(STAMP)
	$(BIN)/python benchmarks/attribution.py --journeys 100000 1000000

bench-kpis: $(STAMP)
	$(BIN)/python benchmarks/kpis.py

# Shared rewards over 1,000,000 won deals (repeated synthetic data, cached under benchmarks/data/).
bench-rewards: $(STAMP)
	$(BIN)/python benchmarks/rewards.py --deals 1000000 --repeat 3

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .hypothesis
