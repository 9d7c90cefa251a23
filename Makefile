# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 5000
export FLASK_APP = iptor_site

.PHONY: install compile run test translations

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

compile: install
	$(BIN)/flask translate compile

run: compile
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

test: compile
	$(BIN)/pytest

translations: install
	$(BIN)/flask translate update
