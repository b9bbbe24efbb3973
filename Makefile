# One obvious way to set up, start, test and demonstrate the engine. Everything a fresh machine
# needs is installed from here: the virtualenv (PyPI), Kafka's jars (Maven Central) and, where it is
# missing, PostgreSQL (Debian's packages).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Every package of the virtualenv and the image is pinned, with its hashes, in a lock file made from
# pyproject.toml by `make lock`: requirements.lock (what the engine runs on) and requirements-dev.lock
# (that plus the tools and tests). The stamp changes with either lock file or pyproject.toml.
LOCKS := requirements.lock requirements-dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKS) 2>/dev/null | sha1sum | cut -c1-12)
PIP := $(BIN)/pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: help venv lock audit kafka-jars up down status lint check-deploy test test-unit demo clean browser jaeger asyncapi bench

help:
	@echo "make test   - set up everything, start Kafka + PostgreSQL, lint, run all tests"
	@echo "make demo   - set up everything and show a change moving through the engine"
	@echo "make up     - start the local Kafka and PostgreSQL (idempotent); make down stops them"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make check-deploy - render the Kubernetes overlays and validate them offline"
	@echo "make lock   - regenerate requirements*.lock from pyproject.toml (UPGRADE=1: newest versions)"
	@echo "make audit  - known vulnerabilities in the locked dependencies (pip-audit; part of make test)"
	@echo "make bench  - throughput benchmarks (decision vs raw Kafka loop, writer lanes); not part of make test"

venv: $(STAMP)

# Exactly the dev lock (pip refuses a package or file whose hash is not in it; wheels only, so no
# package's own build code runs), then the project itself, its dependencies untouched.
$(STAMP): pyproject.toml $(LOCKS)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes --only-binary :all: -r requirements-dev.lock
	$(PIP) install -qq --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

# After editing the dependencies in pyproject.toml: `make lock`, then commit pyproject.toml and both
# lock files. Locked versions stay unless pyproject.toml rules them out; UPGRADE=1 takes the newest.
# The dev lock is made under the runtime lock, so a package in both has one version.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --group bootstrap --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)
lock: venv
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev --constraints requirements.lock -o requirements-dev.lock

# Known vulnerabilities of every locked package, from PyPI's JSON API (tools/audit.py says how, and
# what it cannot see here); fails on any. AUDIT_STRICT=1 also fails on a pin it could not audit.
audit: venv
	$(BIN)/python tools/audit.py --require-hashes --disable-pip --progress-spinner off --desc on \
		$(if $(AUDIT_STRICT),--strict) -r requirements.lock -r requirements-dev.lock

kafka-jars:
	deploy/local/kafka.sh fetch

# KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL point everything at services that already run: then nothing starts.
up:
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then deploy/local/kafka.sh start; fi
	@if [ -z "$$DATABASE_URL" ]; then deploy/local/postgres.sh start; fi

down:
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop
	deploy/local/jaeger.sh stop

status:
	-deploy/local/kafka.sh status
	-deploy/local/postgres.sh status
	-deploy/local/jaeger.sh status

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services projections

# The panel's browser tests drive Debian's chromium (Playwright's own browser downloads are not used).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" -ne 0 ]; then echo "install Debian's 'chromium' package (needs root)"; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# Jaeger v2 (OTLP in, query API on 16687) built from its Go module on first use (into .cache/bin).
jaeger:
	deploy/local/jaeger.sh start

# contracts/asyncapi.json, generated from the FastStream app (a unit test checks it is current).
asyncapi: venv
	$(BIN)/tsync asyncapi

# kustomize is built from its Go module on first use (into .cache/bin); no cluster is needed.
check-deploy: venv
	deploy/k8s/check.sh

test-unit: venv
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

# Jaeger's build (minutes on a cold machine, at the lowest CPU priority) runs beside the set-up, the
# lint and the other tests; the Jaeger tests run last, once it is built. `nice` leaves the cores to
# the end-to-end tests first (their deadlines are seconds), so the build only takes what they leave.
test:
	@mkdir -p .cache; nice -n 19 deploy/local/jaeger.sh fetch > .cache/jaeger-build.log 2>&1 & jaeger_build=$$!; \
	$(MAKE) --no-print-directory venv up lint audit check-deploy browser || { kill $$jaeger_build; exit 1; }; \
	$(BIN)/pytest -m "not jaeger" $(PYTEST_ARGS); tests=$$?; \
	wait $$jaeger_build || { cat .cache/jaeger-build.log; exit 1; }; cat .cache/jaeger-build.log; \
	$(MAKE) --no-print-directory jaeger || exit 1; \
	$(BIN)/pytest -m jaeger $(PYTEST_ARGS); jaeger_tests=$$?; \
	[ $$jaeger_tests -eq 0 ] || [ $$jaeger_tests -eq 5 ] || exit $$jaeger_tests; exit $$tests

# Benchmarks print figures, they assert nothing about speed; never part of `make test`. BENCH_EVENTS and
# BENCH_LATENCY_MS (added to every simulated Tripletex request) tune them.
BENCH_EVENTS ?= 20000
BENCH_LATENCY_MS ?= 50
bench: venv up
	$(BIN)/python bench/decision_throughput.py --events $(BENCH_EVENTS)
	$(BIN)/python bench/writer_throughput.py --tenants 4 --commands 50 --latency-ms 0
	$(BIN)/python bench/writer_throughput.py --tenants 4 --commands 50 --latency-ms $(BENCH_LATENCY_MS)
	$(BIN)/python bench/writer_throughput.py --tenants 16 --commands 20 --latency-ms $(BENCH_LATENCY_MS)

demo: venv up
	$(BIN)/tsync demo

clean: down
	rm -rf .cache $(VENV)
