# Veivalg. `make run` and `make test` each do the whole set-up on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
PG_URL ?= postgres://postgres@127.0.0.1:5432/veivalg
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup setup-test run test lint services messages clean bench

## setup: install Python packages, npm assets and translations (no services needed)
setup: .venv/.installed frontend/node_modules/.installed messages

.venv/.installed: pyproject.toml
	@command -v msgfmt >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null)
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	# The local CPU build of torch first: a plain `torch` requirement would pull several GB.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

messages: .venv/.installed
	$(PY) manage.py compilemessages --ignore=.venv --ignore=frontend/node_modules -v 0

## setup-test: setup, plus Chromium for the browser tests and running PostgreSQL and Redis
setup-test: setup services
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

services:
	@bash scripts/services.sh

## run: set up, migrate, load demo data and serve on http://$(HOST):$(PORT)/ (embedded mode)
run: setup
	$(PY) manage.py migrate -v 0
	$(PY) manage.py seed_demo
	@echo ""
	@echo "Visitor chat:      http://$(HOST):$(PORT)/"
	@echo "Counsellor desk:   http://$(HOST):$(PORT)/veileder/   (log in as kari / veivalg-demo)"
	@echo "Supervisor:        http://$(HOST):$(PORT)/vaktleder/  (vaktleder / veivalg-demo)"
	@echo "Statistics:        http://$(HOST):$(PORT)/statistikk/ (statistikk / veivalg-demo)"
	@echo "Admin:             http://$(HOST):$(PORT)/admin/"
	@echo ""
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

## test: set up, lint, then the whole suite on PostgreSQL + Redis and again on SQLite + in-memory
test: setup-test lint
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest -p no:cacheprovider
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -p no:cacheprovider -m "not multiprocess"

clean:
	rm -rf .venv frontend/node_modules var

## bench: B1–B9 of issue 8 (about 15 minutes; needs PostgreSQL and Redis), see docs/performance.md
bench: setup services
	$(PY) bench/all.py
