# Pipeline: `make run` sets everything up and serves; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format install install-dev worker scheduler bench clean screenshots

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

# Refresh the committed pictures of every page at desktop, tablet and phone sizes (docs/screenshots/).
screenshots: install-dev
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -m browser -q

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .ruff_cache
