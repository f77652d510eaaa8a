# p4dp-matcher developer commands. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATA := .cache/demo-population
DEMO_PATIENTS ?= 20000

.PHONY: install demo serve web-screenshots test lint format gentest bench clean lock

# Installs are reproducible: the versions we test with are pinned in constraints.txt (the lock),
# while pyproject.toml keeps only lower bounds for library users. A package added to
# pyproject.toml but not yet in the lock still installs (at its newest version): run `make lock`
# to pin it.
CONSTRAINTS := constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Refresh the lock: install the newest versions pyproject.toml allows into a throw-away venv and
# pin them all. Review the diff, run `make test`, commit constraints.txt.
LOCK_VENV := .cache/lock-venv

lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q -e '.[dev]'
	{ echo "# The tested versions of every dependency (make lock regenerates this file)."; \
	  echo "# Used as pip install -c constraints.txt -e '.[dev]' by make and .ci/run."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

# The demo counts as requester "demo" in a throwaway ledger, created afresh with `p4dp ledger init`
# at every run (synthetic data, sandbox only): a real deployment keeps one ledger, where the
# budget applies.
DEMO_LEDGER := .cache/demo-ledger.sqlite

# Studies without a fixed index date are counted at the end of the data (extract.json, written
# by p4dp synth): the demo gives the same counts every day. A cache from before extract.json
# existed is generated again.
demo: $(STAMP)
	@test -f $(DEMO_DATA)/extract.json || $(BIN)/p4dp synth --patients $(DEMO_PATIENTS) --seed 42 --out $(DEMO_DATA) --overwrite
	$(BIN)/p4dp data check $(DEMO_DATA)
	@mkdir -p $(dir $(DEMO_LEDGER)) && rm -f $(DEMO_LEDGER)
	$(BIN)/p4dp ledger init --ledger $(DEMO_LEDGER) > /dev/null
	$(BIN)/p4dp count examples/*.p4dp --data $(DEMO_DATA) --by sex --requester demo --ledger $(DEMO_LEDGER) --plot .cache/demo-funnel.png --overwrite
	@echo "--- candidate lists, the loop for one practice (docs/candidate-lists.md) ---"
	@test -f $(LOOP)/population/extract.json || { rm -rf $(LOOP) && $(BIN)/p4dp synth --patients $(LOOP_PATIENTS) --seed 42 --out $(LOOP)/population --practice-exports $(LOOP)/practices --export-practices 1 > /dev/null; }
	@rm -rf $(LOOP)/upload $(LOOP)/platform-keys $(LOOP)/data $(LOOP)/data.generations $(LOOP)/lists $(LOOP)/$(LOOP_PRACTICE)-*
	$(BIN)/p4dp practice extract $(LOOP_EXPORT) --key $(LOOP_KEY) --authority-key $(LOOP)/practices/authority.key --out $(LOOP)/upload/$(LOOP_PRACTICE)
	$(BIN)/p4dp keys init --out $(LOOP)/platform-keys
	$(BIN)/p4dp data receive $(LOOP)/upload/$(LOOP_PRACTICE) --into $(LOOP)/data --key $(LOOP)/platform-keys/platform-pseudonym.key
	$(BIN)/p4dp candidates $(LOOP_STUDY) --data $(LOOP)/data --out $(LOOP)/lists --signing-key $(LOOP)/platform-keys/platform-signing.key --practice $(LOOP_PRACTICE) --ledger $(DEMO_LEDGER)
	$(BIN)/p4dp practice reidentify $(LOOP)/lists/$(LOOP_PRACTICE)/*.json --key $(LOOP_KEY) --export $(LOOP_EXPORT) --public-key $(LOOP)/platform-keys/platform-signing.pub --format html --out $(LOOP)/$(LOOP_PRACTICE)-candidates.html
	@printf 'row,outcome,failed_rule\n1,enrolled,\n2,not_eligible,systolic\n3,declined,\n' > $(LOOP)/$(LOOP_PRACTICE)-outcomes.csv
	$(BIN)/p4dp practice feedback $(LOOP)/lists/$(LOOP_PRACTICE)/*.json --outcomes $(LOOP)/$(LOOP_PRACTICE)-outcomes.csv --out $(LOOP)/$(LOOP_PRACTICE)-feedback.json
	$(BIN)/p4dp candidates feedback $(LOOP)/$(LOOP_PRACTICE)-feedback.json --study $(LOOP_STUDY)
	@echo "The physician's printable page of candidates: $(LOOP)/$(LOOP_PRACTICE)-candidates.html"
	@echo "The web pages (docs/web.md): make serve, then open the URL it prints with one of its tokens"

# The loop of `make demo`: a small population whose first practice exports its records (FHIR
# NDJSON and CSV), extracts them, and re-identifies the platform's signed list (all in .cache/).
LOOP := .cache/demo-loop
LOOP_PATIENTS ?= 3000
LOOP_PRACTICE := PR0001
LOOP_EXPORT := $(LOOP)/practices/$(LOOP_PRACTICE)/fhir
LOOP_KEY := $(LOOP)/practices/$(LOOP_PRACTICE)/practice.key
LOOP_STUDY := examples/hypertension_sprint.p4dp

# The HTTP service and its web pages on the demo population: a fresh database, ledger and
# signing keys, one account of each role (the URL and their tokens printed). Synthetic data,
# loopback only: see docs/api.md and docs/web.md.

serve: $(STAMP)
	@test -f $(DEMO_DATA)/extract.json || $(BIN)/p4dp synth --patients $(DEMO_PATIENTS) --seed 42 --out $(DEMO_DATA) --overwrite
	$(BIN)/python -m matcher.web.demo --data $(DEMO_DATA) --folder .cache/demo-web

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

# The screenshots of docs/web.md: the browser tests (tests/web, headless Chromium) take them.
WEB_SHOTS := build/web-screenshots

web-screenshots: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { echo "install chromium and chromium-driver first"; exit 1; }
	rm -rf $(WEB_SHOTS)
	P4DP_TEST_ARTEFACTS=$(WEB_SHOTS) $(BIN)/python -m pytest tests/web -q -p no:cacheprovider
	mkdir -p docs/img/web && cp $(WEB_SHOTS)/web/*.png docs/img/web/
