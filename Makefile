# One obvious way to set up, start, test and demonstrate the engine. Everything a fresh machine
# needs is installed from here: the virtualenv (PyPI), Kafka's jars (Maven Central) and, where it is
# missing, PostgreSQL (Debian's packages).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help venv kafka-jars up down status lint check-deploy test test-unit demo clean browser jaeger asyncapi

help:
	@echo "make test   - set up everything, start Kafka + PostgreSQL, lint, run all tests"
	@echo "make demo   - set up everything and show a change moving through the engine"
	@echo "make up     - start the local Kafka and PostgreSQL (idempotent); make down stops them"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make check-deploy - render the Kubernetes overlays and validate them offline"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

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
	$(MAKE) --no-print-directory venv up lint check-deploy browser || { kill $$jaeger_build; exit 1; }; \
	$(BIN)/pytest -m "not jaeger" $(PYTEST_ARGS); tests=$$?; \
	wait $$jaeger_build || { cat .cache/jaeger-build.log; exit 1; }; cat .cache/jaeger-build.log; \
	$(MAKE) --no-print-directory jaeger || exit 1; \
	$(BIN)/pytest -m jaeger $(PYTEST_ARGS); jaeger_tests=$$?; \
	[ $$jaeger_tests -eq 0 ] || [ $$jaeger_tests -eq 5 ] || exit $$jaeger_tests; exit $$tests

demo: venv up
	$(BIN)/tsync demo

clean: down
	rm -rf .cache $(VENV)
