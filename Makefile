# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO := demo

.PHONY: install install-test demo demo-data serve test lint format clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned, from the wheel files on disk, so nothing pulls a newer one.
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install demo-data serve

demo-data:
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_experiment --experiment $(DEMO)

serve:
	@echo "Participant URL: http://$(HOST):$(PORT)/study/$(DEMO)/?participant=demo-$$RANDOM"
	@echo "Admin URL:       http://$(HOST):$(PORT)/admin/"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-test
	$(PY) -m pytest

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache
