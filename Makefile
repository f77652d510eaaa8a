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

demo: $(STAMP)
	@test -f $(DEMO_DATA)/patients.parquet || $(BIN)/p4dp synth --patients $(DEMO_PATIENTS) --seed 42 --out $(DEMO_DATA)
	$(BIN)/p4dp data check $(DEMO_DATA)

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
