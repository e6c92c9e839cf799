# The two commands a newcomer needs:  `make up`  (platform + demo data)  and  `make test`.
# Both install what is missing first: the virtualenv and Python packages, the Kafka broker
# jars (Maven, cached in ~/.m2), the PostgreSQL server (Debian's packages, when absent).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  := $(PY) deploy/local/stack.py

.PHONY: up down status infra test test-unit lint contracts clean-state deploy-check
.PHONY: up-secure infra-secure down-secure status-secure

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The web front's Designsystemet CSS, from npm at the versions package-lock.json pins.
WEB_ASSETS := services/web/node_modules/.package-lock.json
$(WEB_ASSETS): services/web/package.json services/web/package-lock.json
	cd services/web && npm ci --no-audit --no-fund --silent
	touch $(WEB_ASSETS)

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

## up: Kafka, PostgreSQL, SMTP sink, the three services, and demo data
up: $(STAMP) $(WEB_ASSETS)
	$(STACK) up --demo

## infra: Kafka, PostgreSQL and the SMTP sink only (what the tests need)
infra: $(STAMP)
	$(STACK) infra

## down: stop everything `up` or `infra` started
down:
	@if test -x $(PY); then $(STACK) down; fi

## up-secure: the same, against a broker that requires SASL_SSL (SCRAM-SHA-512) and ACLs,
## on ports and a state folder of its own; each service has its own user (docs/operations.md)
up-secure: $(STAMP)
	$(STACK) up --secure --demo

## infra-secure: the secured broker (with each service's ACLs), PostgreSQL and the SMTP sink
infra-secure: $(STAMP)
	$(STACK) infra --secure

## down-secure: stop everything `up-secure` or `infra-secure` started
down-secure:
	@if test -x $(PY); then $(STACK) down --secure; fi

status-secure: $(STAMP)
	$(STACK) status --secure

## status: what runs, and where
status: $(STAMP)
	$(STACK) status

## test: the whole suite (unit, integration, end to end) against the real stack
test: infra $(WEB_ASSETS) $(CHROMIUM)
	eval "$$($(STACK) env)" && $(PY) -m pytest -p no:cacheprovider

test-unit: $(STAMP)
	$(PY) -m pytest -m unit -p no:cacheprovider

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services

## bench: registration and notification under load, beside the bare chain (docs/performance.md)
## BENCH_SIZES=1000,10000,100000 for more; BENCH_RATE, BENCH_SECONDS for the open loop;
## BENCH_REPLICA_SIZES, BENCH_REPLICAS for the burst with replicas of each service
.PHONY: bench
bench: infra
	eval "$$($(STACK) env)" && $(PY) -m bench

## bench-floor: what a command and a mail cost in CPU before any I/O, beside the bare sender
.PHONY: bench-floor
bench-floor: $(STAMP)
	$(PY) -m bench.floor

## contracts: regenerate JSON Schema and AsyncAPI documents into contracts/
contracts: $(STAMP)
	$(PY) -m shared.cli contracts generate

## deploy-check: compose file, Dockerfile and Helm chart (lint, render, Kubernetes schemas, the
## values schema both ways), checked without an engine or cluster
deploy-check: $(STAMP)
	bash deploy/check.sh
