# The two commands a newcomer runs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: run test test-fast lint bench chaos clean

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
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .run db.sqlite3 db.sqlite3-* staticfiles
