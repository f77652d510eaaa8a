# p4dp-matcher developer commands. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATA := .cache/demo-population
DEMO_PATIENTS ?= 20000

.PHONY: install demo test lint format gentest bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The demo counts as requester "demo" in a throwaway ledger, created afresh with `p4dp ledger init`
# at every run (synthetic data, sandbox only): a real deployment keeps one ledger, where the
# budget applies.
DEMO_LEDGER := .cache/demo-ledger.sqlite
DEMO_INDEX ?= 2026-06-30# the last day of the synthetic data: the demo gives the same counts every day

demo: $(STAMP)
	@test -f $(DEMO_DATA)/patients.parquet || $(BIN)/p4dp synth --patients $(DEMO_PATIENTS) --seed 42 --out $(DEMO_DATA)
	$(BIN)/p4dp data check $(DEMO_DATA)
	@mkdir -p $(dir $(DEMO_LEDGER)) && rm -f $(DEMO_LEDGER)
	$(BIN)/p4dp ledger init --ledger $(DEMO_LEDGER) > /dev/null
	$(BIN)/p4dp count examples/*.p4dp --data $(DEMO_DATA) --index-date $(DEMO_INDEX) --by sex --requester demo --ledger $(DEMO_LEDGER) --plot .cache/demo-funnel.png --overwrite

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .cache build *.egg-info .pytest_cache .ruff_cache .hypothesis

gentest: $(STAMP)
	HYPOTHESIS_PROFILE=gentest $(BIN)/python -m pytest tests/engine/test_engine_differential.py -q

# Benchmarks (docs/benchmarks.md): `make bench`, or e.g. `make bench BENCH_ARGS=--quick`.
BENCH_DATA ?= .cache/bench
BENCH_ARGS ?=

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --data-root $(BENCH_DATA) $(BENCH_ARGS)
