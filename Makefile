# Pipeline: `make run` sets everything up and serves; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run prod test test-system lint format install install-dev worker scheduler bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.runtime node_modules/.installed
install-dev: $(VENV)/.dev node_modules/.installed

run: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/daphne -b $(HOST) -p $(PORT) project.asgi:application

# Production on one machine (docs/deploy.md): DATABASE_URL, REDIS_URL and SECRET_KEY set; nginx on
# $(HOST):$(PROXY_PORT) in front of $(WEB_PROCESSES) ASGI processes, $(WORKERS) Dramatiq worker(s), one
# scheduler, all supervised by honcho (Procfile).
WEB_PROCESSES ?= 2
WORKERS ?= 1
WEB_PORT ?= 8001
PROXY_PORT ?= 8080

prod: install
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" -a -n "$$SECRET_KEY" || \
		{ echo "make prod needs DATABASE_URL (Postgres), REDIS_URL and SECRET_KEY: see docs/deploy.md"; exit 1; }
	@command -v nginx >/dev/null || { echo "make prod needs nginx (apt-get install nginx)"; exit 1; }
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python deploy/render_nginx.py --prefix var/nginx --listen $(HOST):$(PROXY_PORT) \
		--static-root staticfiles \
		$$(for i in $$(seq 0 $$(($(WEB_PROCESSES) - 1))); do echo --upstream 127.0.0.1:$$(($(WEB_PORT) + i)); done)
	$(BIN)/honcho start -f Procfile -p $(WEB_PORT) -c web=$(WEB_PROCESSES),worker=$(WORKERS),scheduler=1,proxy=1

# Production helpers: the same code, with DATABASE_URL and REDIS_URL set.
worker: install
	$(BIN)/python manage.py rundramatiq --processes 1 --threads 4

scheduler: install
	$(BIN)/python manage.py run_scheduler

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install-dev lint
	$(BIN)/python -m pytest

# Fault and multi-process tests only (tests/system): real servers, workers, nginx, Redis restarts.
test-system: install-dev
	$(BIN)/python -m pytest -m system

# Refresh the committed pictures of every page at desktop, tablet and phone sizes (docs/screenshots/).
screenshots: install-dev
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -m browser -q

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .ruff_cache
