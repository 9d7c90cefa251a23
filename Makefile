# The two commands a newcomer needs: `make run` and `make test` (`make check` is the quick loop).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 5000
export FLASK_APP = iptor_site

.PHONY: install compile migrate run test check lint lock translations outbox bench cluster cluster-test screenshots \
	brand-images

# Exactly the releases requirements.lock pins, each checked against its hashes, then the
# project itself without resolving anything again.
$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

compile: install
	$(BIN)/flask translate compile

migrate: install
	$(BIN)/flask db upgrade

# The development server with the outbox worker beside it (it sends the mail the site
# queues); Ctrl-C stops both.
run: compile migrate
	$(BIN)/flask outbox work & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

outbox: install
	$(BIN)/flask outbox send

# The checkers the tests run: axe-core and the Nu Html Checker (run with Debian's Java).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

lint: install
	$(BIN)/ruff check site tests migrations bench deploy scripts
	$(BIN)/bandit -q -c pyproject.toml -r site -ll

# Everything: lint, Bandit and the whole suite, browser (Chromium) and Nu Html Checker (Java) included.
test: compile lint node_modules/.installed
	$(BIN)/pytest

# The quick loop: lint, Bandit and every test that needs neither a browser nor Java, spread
# over CHECK_WORKERS processes (pytest-xdist; each test has its own database either way).
CHECK_WORKERS ?= 2
check: compile lint
	$(BIN)/pytest -m "not browser and not java" -n $(CHECK_WORKERS)

# Regenerates requirements.lock from pyproject.toml (runtime and the `test` extra) with
# pip-tools, kept in a venv of its own. LOCK_ARGS="--upgrade-package flask" bumps one
# package, LOCK_ARGS=--upgrade every one; without LOCK_ARGS the pins stay where they are.
LOCK_VENV ?= .venv-lock
PIP_TOOLS ?= pip-tools==7.6.2
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install --quiet '$(PIP_TOOLS)'; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --strip-extras --extra test --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock $(LOCK_ARGS) pyproject.toml

translations: install
	$(BIN)/flask translate update

# Throughput and latency against a bare Flask app and nginx (needs wrk and nginx from
# Debian). BENCH_SECONDS, BENCH_CONNECTIONS and DATABASE_URL adjust it. CLUSTER=1 drives
# the same cases through the whole stack of `make cluster` over HTTPS instead.
CLUSTER ?=
bench: compile
	$(BIN)/python bench/$(if $(filter-out 0,$(CLUSTER)),through_cluster,run).py

# The production shape on loopback (deploy/cluster.py): nginx with TLS on PORT (8443 unless
# PORT is given), two app servers, PostgreSQL, Redis and the outbox worker, in the
# foreground until Ctrl-C. Needs nginx, postgresql, redis-server and openssl from Debian.
CLUSTER_PORT = $(if $(filter command line environment,$(origin PORT)),$(PORT),8443)
cluster: compile
	$(BIN)/python deploy/cluster.py --port $(CLUSTER_PORT)

# The tests of that cluster under faults (tests/cluster/, left out of `make test`): they
# start one on a free port, or use the one CLUSTER_STATE_FILE (its cluster.json) names.
cluster-test: compile
	$(BIN)/pytest -o addopts="-ra --strict-markers" -p no:cacheprovider tests/cluster

# Full-page PNGs of every public page in every locale at 390 and 1366 px, light and dark
# (headless Chromium via Playwright) into screenshots/ (git-ignored); the four the README
# shows are copied to docs/screenshots/.
screenshots: compile
	$(BIN)/python scripts/screenshots.py screenshots

# The favicon PNG/ICO and the per-locale 1200x630 social cards in static/img/, drawn from
# the site's own SVG mark with headless Chromium.
brand-images: compile
	$(BIN)/python scripts/make_brand_images.py
