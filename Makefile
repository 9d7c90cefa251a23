# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 5000
export FLASK_APP = iptor_site

.PHONY: install compile migrate run test lint translations outbox bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

compile: install
	$(BIN)/flask translate compile

migrate: install
	$(BIN)/flask db upgrade

run: compile migrate
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

outbox: install
	$(BIN)/flask outbox send

# The checkers the tests run: axe-core and the Nu Html Checker (run with Debian's Java).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

lint: install
	$(BIN)/ruff check site tests migrations bench
	$(BIN)/bandit -q -c pyproject.toml -r site -ll

test: compile lint node_modules/.installed
	$(BIN)/pytest

translations: install
	$(BIN)/flask translate update

# Throughput and latency against a bare Flask app and nginx (needs wrk and nginx from
# Debian). BENCH_SECONDS, BENCH_CONNECTIONS and DATABASE_URL adjust it.
bench: compile
	$(BIN)/python bench/run.py
