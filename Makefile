# The two commands a newcomer runs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: run test test-fast lint bench chaos hostile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

## make run: SQLite + filesystem broker + sandboxes + demo data at http://127.0.0.1:8000
run: $(VENV)/.installed-run
	./scripts/run

## make test: the whole suite on PostgreSQL and Redis (DATABASE_URL / REDIS_URL, else 127.0.0.1)
test: $(VENV)/.installed-dev
	$(BIN)/python scripts/check_services.py
	./scripts/ensure_chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: every benchmark on dedicated PostgreSQL databases (vtu_bench_*), gunicorn + Celery +
## wrk; writes docs/PERFORMANCE.md. BENCH_ARGS="--duration 5 --rounds 1" for a quick look.
bench: $(VENV)/.installed-dev
	$(BIN)/python scripts/check_services.py
	./scripts/ensure_wrk
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

## make chaos: the long fault-injection run (seeded; CHAOS_SEED=<n> replays one). The short one is in make test.
## Its summary (bench/results/chaos.json) is rendered into docs/PERFORMANCE.md whatever the outcome.
chaos: $(VENV)/.installed-dev
	$(BIN)/python scripts/check_services.py
	CHAOS_LONG=1 $(BIN)/python -m pytest -m chaos -q $(PYTEST_ARGS) tests/chaos vtu/tests/test_crash.py; \
	status=$$?; $(BIN)/python bench/chaos_report.py; exit $$status

## make hostile: the long schemathesis and webhook fuzz (the short one is in make test)
hostile: $(VENV)/.installed-dev
	$(BIN)/python scripts/check_services.py
	HOSTILE_EXAMPLES=100 HOSTILE_WEBHOOK_EXAMPLES=500 $(BIN)/python -m pytest -m hostile -q $(PYTEST_ARGS) tests/hostile

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .run db.sqlite3 db.sqlite3-* staticfiles
