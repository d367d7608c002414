# Every target bootstraps what it needs: a fresh machine only needs python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup generate check-generated lint typecheck test test-crash demo bench bench-ratelimit bench-shared hostile-big mutation wheel clean
.PHONY: test-batch-crash demo-batch bench-batch

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,fake,redis]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the package (editable) and every extra

generate: $(STAMP) ## regenerate generated/ and the wrapper's spec copy from openapi/
	$(BIN)/python openapi/regenerate.py

check-generated: $(STAMP) ## fail, naming the files, when generated/ or the spec copy is stale
	$(BIN)/python openapi/regenerate.py --check

lint: $(STAMP) ## ruff on the hand-written code, mypy --strict on wrapper/, examples/ and mutation/
	$(BIN)/ruff check wrapper contract_tests bench openapi examples mutation
	$(BIN)/ruff format --check wrapper contract_tests bench openapi examples mutation
	$(BIN)/mypy
	$(BIN)/mypy --strict examples mutation

test: lint check-generated ## everything CI checks
	$(BIN)/python -m pytest -n 2 --dist loadfile -q contract_tests

test-crash: $(STAMP) ## the full SIGKILL matrix: each crash point x SQLite/Redis x sync/async resume
	KIE_CRASH_MATRIX=full $(BIN)/python -m pytest -n 2 -q contract_tests/test_journal_crash.py

test-batch-crash: $(STAMP) ## a 50-item batch SIGKILLed at 5 random moments (seeded), resumed each time
	KIE_BATCH_CRASH=full $(BIN)/python -m pytest -p no:xdist -q contract_tests/test_run_batch_crash.py

demo: $(STAMP) ## the whole flow against the embedded fake server: no key, no network
	$(BIN)/kie-instrumental demo

demo-batch: $(STAMP) ## a 20-item batch against the embedded fake, SIGKILLed part way and resumed
	$(BIN)/kie-instrumental demo --batch --out demo-batch-output

bench-batch: $(STAMP) ## 200-item batch at 20 requests per (shortened) window: rate, 429s, memory
	$(BIN)/python -m bench.batch

bench: $(STAMP) ## benchmarks; writes bench/results.json and bench/results-shared.json
	$(BIN)/python -m bench
	$(BIN)/python -m bench.shared

bench-shared: $(STAMP) ## 4 processes x 50 creates through one Redis budget; wait() lag with callbacks (3 min)
	$(BIN)/python -m bench.shared

bench-ratelimit: $(STAMP) ## 50 concurrent creates against FakeKie at 20/10 s: HTTP 429s counted (minutes)
	$(BIN)/python -m bench.ratelimit --runs 3 --creates 50

hostile-big: $(STAMP) ## the receivers refuse a 300 MiB body at flat memory (make test sends 48)
	KIE_HOSTILE_BODY_MB=300 $(BIN)/python -m pytest contract_tests/test_hostile_callbacks.py -k oversized -p no:xdist -q

mutation: $(STAMP) ## mutmut over the guarantee-bearing modules (MODULES="webhooks receivers" for some, MUTATION_ARGS="--fresh --workers 1"); writes contract_tests/mutation-summary.md
	$(BIN)/python -m mutation $(MUTATION_ARGS) $(MODULES)

wheel: $(STAMP) ## build the wheel and sdist into dist/
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
