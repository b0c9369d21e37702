# Python Learning Studio: the one interface for people and CI.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Tests use the PostgreSQL and Redis on 127.0.0.1 unless told otherwise; `make test-sqlite` uses neither.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: help tools install test test-sqlite lint up down status logs pages fire-drill migrate seed explain generate \
	check-generated \
	schema-check

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

# First of all, with the system Python: the system tools (stack/tools.py).  A machine that cannot install them
# stops here within seconds, naming the command to run, before the virtualenv is built.
tools: ## install the system tools the stack and the suite run (prometheus, alertmanager, amtool, exporters, redis)
	@$(PYTHON) -m stack.tools ensure $(if $(TOOLS_DATABASE_URL),--database-url $(TOOLS_DATABASE_URL))

$(STAMP): pyproject.toml | tools
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev,load]'
	touch $(STAMP)

install: tools $(STAMP) ## install the system tools, create the virtualenv and install everything (runtime, dev, load tests)

# With no PostgreSQL answering on TEST_DATABASE_URL the suite starts a throwaway one (its server tools are then
# needed); with no Redis answering on TEST_REDIS_URL, tests/run.py starts a throwaway redis-server.
test: TOOLS_DATABASE_URL = $(TEST_DATABASE_URL)
test: tools $(STAMP) ## run the whole suite against PostgreSQL (a throwaway one if none answers) and Redis on 127.0.0.1
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m tests.run $(PYTEST_ARGS)

test-sqlite: tools $(STAMP) ## run the suite on SQLite (Redis still used where a test needs it)
	DATABASE_URL=sqlite:///$(CURDIR)/var/ignored.sqlite3 REDIS_URL=$(TEST_REDIS_URL) $(PY) -m tests.run $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, and the import contracts of pyproject.toml (import-linter)
	$(VENV)/bin/ruff check app tests loadtests grafana prometheus alertmanager stack monitoring_spec benchmarks
	cd app && ../$(VENV)/bin/lint-imports ../pyproject.toml --no-cache --no-logo

# Every generator reads monitoring_spec/ and writes through monitoring_spec/artifacts.py (--check: drift, stale files).
GENERATORS := prometheus.generate prometheus.render_config alertmanager.render_config grafana.generate

generate: $(STAMP) ## regenerate every generated file (rules, their tests, Alertmanager and Prometheus configs, dashboards)
	@for gen in $(GENERATORS); do $(PY) -m $$gen || exit 1; done

check-generated: tools $(STAMP) ## fail when a generated file drifted from its source; promtool and amtool checks
	@for gen in $(GENERATORS); do $(PY) -m $$gen --check || exit 1; done
	promtool check rules prometheus/rules/*.yml
	promtool test rules prometheus/tests/*.yml
	amtool check-config alertmanager/alertmanager.yml alertmanager/alertmanager-2.yml

# Node and npm only (no virtualenv): grafana/schema/ pins @grafana/schema and typescript; npm ci on first use.
schema-check: ## type-check the generated dashboards against @grafana/schema's Dashboard type (tsc; needs node, npm)
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "schema-check needs node and npm (https://nodejs.org)" >&2; exit 2; }
	node grafana/schema/check.mjs

migrate: $(STAMP) ## apply migrations to the configured database
	cd app && ../$(PY) manage.py migrate --noinput

seed: $(STAMP) ## seed the configured database (SIZE=small|medium|large)
	cd app && ../$(PY) manage.py seed_data --size $(or $(SIZE),small)

explain: $(STAMP) ## each endpoint's SQL with EXPLAIN (ANALYZE, BUFFERS) on the configured PostgreSQL (EXPLAIN_ARGS="--only course_list")
	cd app && ../$(PY) manage.py explain_endpoints $(EXPLAIN_ARGS)

up: tools $(STAMP) ## start the stack, wait until healthy, print the URLs (STACK_ENV=production: production settings; STACK_HA=1: two Prometheus replicas + a two-member Alertmanager cluster; FOREGROUND=1)
	$(PY) -m stack up $(if $(FOREGROUND),--foreground)

down: $(STAMP) ## stop everything `make up` started
	$(PY) -m stack down

status: $(STAMP) ## show each service of the stack
	$(PY) -m stack status

logs: $(STAMP) ## follow the stack's logs
	$(PY) -m stack logs

pages: $(STAMP) ## list the pages (e-mail, Slack, PagerDuty) the local receivers got
	$(PY) -m stack pages

DRILL ?= all
fire-drill: $(STAMP) ## make alert conditions happen through the running app (DRILL=error-spike|slow|error-rate|db-slow|all)
	cd app && ENVIRONMENT=development DJANGO_SETTINGS_MODULE=config.settings.development \
	  ../$(PY) manage.py fire_drill $(DRILL) --url http://127.0.0.1:$(or $(APP_PORT),8000) \
	  --prometheus-url http://127.0.0.1:$(or $(PROMETHEUS_PORT),9090)

# Load tests and benchmarks (docs/benchmarks.md).  LOAD_SHAPE=step: step load until an endpoint leaves its target.
USERS ?= 20
DURATION ?= 60s
SPAWN_RATE ?= 5
LOAD_HOST ?= http://127.0.0.1:$(or $(APP_PORT),8000)
REPORTS_DIR ?= reports
LOCUST_ARGS ?=
ITERATIONS ?= 20
BENCHMARK_ARGS ?=
# A production-mode stack (STACK_ENV=production make up) closes /metrics with a generated token: the fidelity
# check reads it from this file (absent in development, where /metrics is open).
STACK_RUN_DIR ?= var/stack
LOAD_METRICS_TOKEN_FILE ?= $(wildcard $(STACK_RUN_DIR)/secrets/metrics-token)

.PHONY: loadtest benchmark
loadtest: $(STAMP) ## headless Locust run against the running app, graded (USERS=20 DURATION=60s LOAD_SHAPE=step)
	LOAD_SHAPE=$(LOAD_SHAPE) $(if $(LOAD_METRICS_TOKEN_FILE),METRICS_TOKEN_FILE=$(LOAD_METRICS_TOKEN_FILE)) $(VENV)/bin/locust -f loadtests --headless -u $(USERS) -r $(SPAWN_RATE) -t $(DURATION) \
	  --host $(LOAD_HOST) --reports-dir $(REPORTS_DIR) --only-summary $(LOCUST_ARGS)

benchmark: $(STAMP) ## time each endpoint in-process against the configured database (ITERATIONS=20 BENCHMARK_ARGS=--warm-cache)
	cd app && SILK_ENABLED=$(or $(SILK_ENABLED),0) ../$(PY) manage.py benchmark --iterations $(ITERATIONS) $(BENCHMARK_ARGS)

.PHONY: bench-instrumentation
bench-instrumentation: $(STAMP) ## instrumentation cost: bare/ours/peer CPU per request, gunicorn, /metrics scrape (BENCH_ARGS="--http --scrape")
	$(PY) -m benchmarks.instrumentation_cost $(BENCH_ARGS)

.PHONY: bench-capacity
ROUNDS ?= 2
CAPACITY_ARGS ?=
bench-capacity: $(STAMP) ## capacity at target, the running stack's app vs the same app uninstrumented, interleaved (ROUNDS=2 CAPACITY_ARGS="--step-max-users 300")
	$(PY) -m benchmarks.capacity --rounds $(ROUNDS) $(CAPACITY_ARGS)

.PHONY: bench-metrics
bench-metrics: $(STAMP) ## /metrics scrape time and size vs workers, dead workers' files, views; merge off then on (BENCH_ARGS="--scrapes 10 --only dead --merge")
	$(PY) -m benchmarks.metrics_growth $(BENCH_ARGS)

.PHONY: bench-signin
bench-signin: $(STAMP) ## password guessing vs the course list's P50/P95, sign-in throttle off then on (BENCH_ARGS="--seconds 30")
	$(PY) -m benchmarks.signin_attack $(BENCH_ARGS)

.PHONY: bench-memory
bench-memory: $(STAMP) ## RSS/PSS per gunicorn worker of the running stack, Prometheus head series and RSS (after make loadtest)
	$(PY) -m benchmarks.stack_memory $(BENCH_ARGS)

# Dashboard snapshots without Grafana (grafana/snapshot/): every panel's queries drawn to PNG with matplotlib.
.PHONY: snapshot snapshot-readme
SNAPSHOT_ARGS ?=
README_IMAGE := docs/images/overview.png
snapshot: $(STAMP) ## draw the dashboards from the running Prometheus to var/snapshots/<UTC time>/ (SNAPSHOT_ARGS="--around T --window 30m")
	$(PY) -m grafana.snapshot $(SNAPSHOT_ARGS)

snapshot-readme: $(STAMP) ## redraw the README's Overview picture (docs/images/overview.png) from the running Prometheus, last hour
	$(PY) -m grafana.snapshot --dashboard studio-overview --out var/snapshots/readme $(SNAPSHOT_ARGS)
	mkdir -p $(dir $(README_IMAGE)) && cp var/snapshots/readme/overview.png $(README_IMAGE)

.PHONY: game-day
GAME_DAY_ARGS ?=
game-day: $(STAMP) ## faults against the running stack under load, measured end to end (GAME_DAY_ARGS="--list|--only NAME|--soak 15")
	$(PY) -m stack game-day $(GAME_DAY_ARGS)

.PHONY: mutation
mutation: tools $(STAMP) ## every alert mutated (thresholds, comparisons, for:, windows): each mutant must fail a promtool test
	$(PY) -m prometheus.promtest.mutate

# The weekly review (stack/review/) and the history it can be tried on (stack/backfill.py, stack/history.py).
.PHONY: backfill review
DAYS ?= 15
backfill: tools $(STAMP) ## load DAYS (default 15) of realistic history, rules and alerts into the running stack's Prometheus
	$(PY) -m stack.backfill --days $(DAYS) --stack-targets --data-dir var/stack/prometheus-data \
	  --prometheus http://127.0.0.1:$(or $(PROMETHEUS_PORT),9090)

review: $(STAMP) ## the post-launch checklist as var/reviews/<date>/review.md with charts (SINCE=7d, REVIEW_ARGS="--from T --to T --out DIR --long-term URL"); reads the long-term store when the stack writes to one
	$(PY) -m stack.review --prometheus http://127.0.0.1:$(or $(PROMETHEUS_PORT),9090) $(if $(SINCE),--since $(SINCE)) $(REVIEW_ARGS)
