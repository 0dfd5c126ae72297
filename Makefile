# The two commands: `make run` and `make test`. Each sets up what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed

# The first Python 3.12+ found; `.python-version` makes pyenv pick 3.12.
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done)

.PHONY: help run test lint format migrate clean bench bench-quick ensure-wrk cluster lock \
	check-lock openapi check-openapi

help:
	@echo "make run     set up, migrate and start the service on http://$(HOST):$(PORT)"
	@echo "make test    set up and run the whole test suite"
	@echo "make lint    what CI checks first: the hooks of .pre-commit-config.yaml (ruff, mypy, drift checks)"
	@echo "make format  apply ruff fixes and formatting"
	@echo "make lock    rewrite requirements*.txt, the locks of pyproject.toml"
	@echo "make openapi rewrite docs/openapi.yaml, the schema of the REST API"
	@echo "make bench   benchmarks (requests, writes, fan-out latency, connections), each against its target"
	@echo "make bench-quick  requests against a bare DRF app on PostgreSQL + Redis, in about two minutes"
	@echo "make cluster nginx in front of two servers and two job workers, on PostgreSQL and Redis"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (none found on PATH)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The dev lock holds the runtime one's pins too, with their hashes.
$(STAMP): $(BIN)/python requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@

migrate: $(STAMP)
	$(MANAGE) migrate --noinput

# A person at a terminal reads text logs; LOG_FORMAT=json make run shows what collectors get.
# An empty database gets the offer of a demo show (manage.py demo_data); DEMO=1 loads it unasked.
run: export LOG_FORMAT ?= text
run: migrate
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) ensure_admin
	$(MANAGE) demo_data --if-empty $(if $(filter 1,$(DEMO)),,--ask)
	@echo "Serving on http://$(HOST):$(PORT)/ (API docs: /api/docs/, admin: /admin/), with a job worker. Ctrl-C stops."
	exec $(MANAGE) serve --host $(HOST) --port $(PORT)

# Tests outside the embedded default need a SECRET_KEY; a throwaway one per run is right there.
test: $(STAMP)
	SECRET_KEY="$${SECRET_KEY:-$$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}" \
		$(BIN)/pytest $(ARGS)

# Against the local PostgreSQL and Redis too (DATABASE_URL / REDIS_URL name others).
bench: $(STAMP) ensure-wrk
	$(BIN)/python -m bench.run

# A change's before and after: the request comparison alone, on PostgreSQL + Redis.
bench-quick: $(STAMP) ensure-wrk
	$(BIN)/python -m bench.run --quick

# wrk loads the servers in the request comparison (bench/wrk.py): Debian's package.
ensure-wrk:
	@command -v wrk >/dev/null || { echo "installing wrk"; \
		apt-get install -y --no-install-recommends wrk >/dev/null \
		|| { apt-get update >/dev/null && apt-get install -y --no-install-recommends wrk >/dev/null; }; }

# The production topology on one machine, on the local PostgreSQL and Redis (DATABASE_URL and
# REDIS_URL name others): deploy/Procfile.cluster, described in docs/deployment.md.
cluster: $(STAMP)
	$(BIN)/python -m deploy.prepare_cluster
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho --env "$${VAR_DIR:-var}/cluster/env" \
		--procfile deploy/Procfile.cluster --app-root . start

lint: $(STAMP)
	$(BIN)/pre-commit run --all-files

# The locks, for Linux and the oldest Python supported. uv keeps every pin that still fits
# pyproject.toml; the dev lock takes the runtime one's as constraints, so the two agree.
UV_COMPILE = $(CURDIR)/$(BIN)/uv pip compile --quiet --python $(CURDIR)/$(BIN)/python \
	--python-version 3.12 --python-platform linux --generate-hashes \
	--custom-compile-command "make lock" pyproject.toml
LOCK = $(UV_COMPILE) -o requirements.txt && \
	$(UV_COMPILE) --extra dev -c requirements.txt -o requirements-dev.txt

lock: $(STAMP)
	$(LOCK)

# Locks again in a copy of pyproject.toml and the locks, and compares.
check-lock: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp pyproject.toml requirements.txt requirements-dev.txt "$$tmp" && \
	(cd "$$tmp" && $(LOCK)) && \
	for lock in requirements.txt requirements-dev.txt; do \
		diff -u "$$lock" "$$tmp/$$lock" \
		|| { echo "$$lock is out of step with pyproject.toml: run make lock" >&2; exit 1; }; \
	done

openapi: $(STAMP)
	$(MANAGE) spectacular --validate --file docs/openapi.yaml

# A changed API is a reviewed diff of docs/openapi.yaml.
check-openapi: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MANAGE) spectacular --validate --file "$$tmp/openapi.yaml" && \
	{ diff -u docs/openapi.yaml "$$tmp/openapi.yaml" \
		|| { echo "docs/openapi.yaml is not what the service generates: run make openapi" >&2; exit 1; }; }

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache
