# Ablage: `make run` starts the embedded install, `make test` runs every check.
# Both set up what they need first (Debian 12: apt packages, .venv, services) and are safe
# to repeat: the venv is reinstalled only when a requirements file changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PORT ?= 8000
BIND ?= 127.0.0.1
QUEUES ?= default
LOG_LEVEL ?= INFO

# LibreOffice (headless, no GUI): office files converted to PDF at intake (documents.office).
# wngerman: the German word list of the optional OCR post-correction (ocr.postcorrect).
SYSTEM_PACKAGES := tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng fonts-dejavu-core fonts-liberation libgl1 libglib2.0-0 \
	libreoffice-writer-nogui libreoffice-calc-nogui wngerman
# Playwright drives the Debian chromium (executable_path=/usr/bin/chromium), never a download.
TEST_SYSTEM_PACKAGES := $(SYSTEM_PACKAGES) chromium dovecot-imapd

comma := ,

.PHONY: help run test test-faults lint format web worker beat services system-packages test-system-packages

help:
	@echo "make run      Einrichten und eingebettet starten (SQLite, Dateien unter data/, ohne Redis)"
	@echo "make test     Einrichten, PostgreSQL/Redis sicherstellen, ruff, check, Migrationen, pytest"
	@echo "make test-faults  Störfall-Szenarien (Redis-Neustart, DB-Verbindungen weg, Last) mit echten Prozessen"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make format   ruff format + ruff check --fix"
	@echo "make web      Nur den Webserver starten (mehrere daphne, BIND=$(BIND) PORT=$(PORT), ABLAGE_WEB_PROCESSES)"
	@echo "make worker   Einen Celery-Worker für QUEUES=$(QUEUES) starten (z. B. QUEUES=ocr_cpu)"
	@echo "make beat     celery beat starten (periodische Aufgaben)"

# --- set-up -----------------------------------------------------------------------------

$(PY):
	scripts/ensure-python.sh
	python3.11 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: pip runs again only when a requirements file is newer than its stamp.
$(VENV)/.installed-base: requirements/base.txt | $(PY)
	$(PY) -m pip install -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt requirements/base.txt | $(PY)
	$(PY) -m pip install -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

system-packages:
	scripts/ensure-system-packages.sh $(SYSTEM_PACKAGES)

test-system-packages:
	scripts/ensure-system-packages.sh $(TEST_SYSTEM_PACKAGES)

services:
	scripts/ensure-services.sh

# --- the two commands -------------------------------------------------------------------

run: system-packages $(VENV)/.installed-base
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_demo_admin
	SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" exec $(PY) scripts/run_embedded.py --port $(PORT)

# The checks themselves (ruff, check, makemigrations --check, pytest on PostgreSQL, then
# the `embedded` tests on SQLite) are in scripts/check.sh: all run, then it fails if one did.
test: test-system-packages $(VENV)/.installed-dev services
	scripts/check.sh

# The slow fault scenarios (tests marked `faults`: broker restart, dropped database
# connections, the load benchmark), one at a time: they start their own worker processes and
# a private redis-server and time their own recovery. `make test` leaves them out; CI runs both.
test-faults: test-system-packages $(VENV)/.installed-dev services
	DJANGO_SETTINGS_MODULE=ablage.settings_test $(BIN)/pytest -m faults -n 0 --durations=10

# --- development ------------------------------------------------------------------------

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- production-style processes (one per container/unit; see README "Betrieb") ----------

# Several daphnes on one socket (ablage.serve): ABLAGE_WEB_PROCESSES, default min(4, cores).
web: $(VENV)/.installed-base
	exec $(PY) -m ablage.serve --host $(BIND) --port $(PORT)

# The node name carries the queues so that several workers can run on one host.
worker: $(VENV)/.installed-base
	exec $(BIN)/celery -A ablage worker -Q $(QUEUES) -n $(subst $(comma),-,$(QUEUES))@%h --loglevel $(LOG_LEVEL) \
		$(if $(CONCURRENCY),--concurrency $(CONCURRENCY))

beat: $(VENV)/.installed-base
	exec $(BIN)/celery -A ablage beat --loglevel $(LOG_LEVEL)
