# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-floors browser layers lint typecheck pytest docs bench bench-attribution bench-journey bench-kpis bench-rewards bench-rules bench-sla bench-connectors bench-hubspot-api bench-salesforce-api bench-lint-text bench-compare bench-scale rules-docs clean setup

setup: $(STAMP) browser

$(STAMP): pyproject.toml tests/plugins/attribution_example/pyproject.toml tests/plugins/rules_example/pyproject.toml \
		tests/plugins/spreadsheet_crm/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "smarketing needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e tests/plugins/attribution_example
	$(BIN)/python -m pip install --quiet --no-deps -e tests/plugins/rules_example
	$(BIN)/python -m pip install --quiet --no-deps -e tests/plugins/spreadsheet_crm
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smarketing demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src

# On every CPU (pytest-xdist). Session fixtures (the browser, the tutorial's run) start once per worker;
# every Spark test is in one xdist group (tests/conftest.py), so one worker starts Spark's JVM.
pytest: $(STAMP) browser
	$(BIN)/pytest -q -p no:cacheprovider -n auto --dist loadgroup

# Debian's chromium for the browser tests, installed when missing where apt-get can (see the script); the
# tests save their screenshots under build/screenshots/.
browser:
	@sh tools/ensure-chromium.sh

# No --quiet: it drops the warnings that --strict counts, and the build would pass with them.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site

test: lint typecheck pytest docs

# The import-layer contract alone (it also runs inside `make pytest`): tests/test_layers.py, on grimp.
layers: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layers.py

# Every benchmark, one after another (each records its table for docs/performance.md).
bench: bench-kpis bench-journey bench-attribution bench-sla bench-rewards

# Times smarketing against ChannelAttribution and marketing-attribution-models (installed by the script in
# benchmarks/.venv-attribution, never project dependencies) and writes docs/performance.md.
bench-attribution: $(STAMP)
	$(BIN)/python benchmarks/attribution.py --journeys 100000 1000000

# evaluate_sla end to end on 1M synthetic leads (~5M activities), each run in a fresh process.
bench-sla: $(STAMP)
	$(BIN)/python benchmarks/sla.py --leads 1000000

bench-kpis: $(STAMP)
	$(BIN)/python benchmarks/kpis.py

# Shared rewards over 1,000,000 won deals (repeated synthetic data, cached under benchmarks/data/).
bench-rewards: $(STAMP)
	$(BIN)/python benchmarks/rewards.py --deals 1000000 --repeat 3

# Journey analytics on 1M synthetic leads beside pm4py (in benchmarks/.venv-pm4py, never a dependency).
bench-journey: $(STAMP)
	$(BIN)/python benchmarks/journey.py $(BENCH_ARGS)

# The working tree against BASE (default main), alternating rounds on the same data (issue 14: "no slower").
BASE ?= main
bench-compare: $(STAMP)
	$(BIN)/python benchmarks/compare.py $(BASE) $(BENCH_ARGS)

bench-rules: $(STAMP)
	$(BIN)/python benchmarks/rules.py

bench-connectors: $(STAMP)
	$(BIN)/python benchmarks/connectors.py $(BENCH_ARGS)

# The live hubspot connector's full load against the fake API at 100k contacts (BENCH_ARGS="--leads N").
bench-hubspot-api: $(STAMP)
	$(BIN)/python benchmarks/hubspot_api.py $(BENCH_ARGS)

# The live salesforce connector's full load against the fake API at 100k leads, through REST pages and
# through Bulk 2.0 jobs (BENCH_ARGS="--leads N --only rest|bulk").
bench-salesforce-api: $(STAMP)
	$(BIN)/python benchmarks/salesforce_api.py $(BENCH_ARGS)

# glossary.lint_text over 10,000 documents of 2 KB of each kind, beside plain `re` peers; --cli also times
# the command over the files (BENCH_ARGS="--docs N --repeat N --cli").
bench-lint-text: $(STAMP)
	$(BIN)/python benchmarks/lint_text.py $(BENCH_ARGS)

# Issue 19: every public analysis on 1M synthetic leads as Parquet part files, polars and PySpark (local[2]),
# each in a fresh process under a memory watchdog; BENCH_ARGS="--leads 1000000 3000000 --engines polars".
bench-scale: $(STAMP)
	nice -n 10 $(BIN)/python benchmarks/scale.py $(BENCH_ARGS)

# docs/rules.md is generated from the rule registry; tests/rules/test_docs.py fails when it is stale.
rules-docs: $(STAMP)
	$(BIN)/python -m smarketing.rules._docs > docs/rules.md

# The declared lowest versions (tools/floors.txt, the floors of pyproject.toml) in .venv-floors: the
# cross-engine matrix and the scale-out, persona, journey, SLA, KPI and record tests on them. Not part of
# `make test` (a second environment: about 5 minutes from nothing); CI runs it after `make test` (.ci/run).
test-floors:
	@test -x .venv-floors/bin/python || $(PYTHON) -m venv .venv-floors
	.venv-floors/bin/python -m pip install --quiet -c tools/floors.txt -e '.[testing,pandas,duckdb,spark,plot]' \
		'pytest>=8.0,<9.2' 'pytest-xdist>=3.6' scikit-learn jsonschema grimp
	.venv-floors/bin/pytest -q -p no:cacheprovider -n auto --dist loadgroup tests/frames/test_matrix.py \
		tests/persona tests/journey tests/sla tests/kpi tests/records

clean:
	rm -rf $(VENV) .venv-floors site build .mypy_cache .ruff_cache .hypothesis
