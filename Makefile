# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO := demo

.PHONY: install install-test demo demo-data serve test lint format clean wordnet

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

# The demo network is tiny: one thread is fastest (two oversubscribe the cores), and channels_last
# is about a third faster on this CPU too. The hidden units are ones the digits activate (read
# from the trained weights), so they have selectivity.
AM_DEMO := --network demo --iterations 100 --batch 200 --cpu-threads 1 --channels-last \
	--experiment $(DEMO)
DEMO_DIR := $(or $(DJANGO_VAR_DIR),var)/demo

demo-data: wordnet
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_experiment --experiment $(DEMO)
	$(PY) manage.py train_demo
	$(PY) manage.py generate_panels $(AM_DEMO) --layer fc8 --units 0-9
	units=$$($(PY) manage.py demo_units --layer fc6 --count 6) && \
		$(PY) manage.py generate_panels $(AM_DEMO) --layer fc6 --units $$units
	units=$$($(PY) manage.py demo_units --layer conv5 --count 4) && \
		$(PY) manage.py generate_panels $(AM_DEMO) --layer conv5 --units $$units
	# Now that the AM panels are registered, this builds the counterbalanced lists.
	$(PY) manage.py demo_experiment --experiment $(DEMO)
	$(PY) manage.py record_activations --network demo --dataset demo --out $(DEMO_DIR)/acts.h5
	$(PY) manage.py compute_selectivity --network demo --activations $(DEMO_DIR)/acts.h5 \
		--csv $(DEMO_DIR)/selectivity.csv
	$(PY) manage.py selectivity_report --network demo --layers conv5,fc6,fc7
	$(PY) manage.py simulate_responses --experiment $(DEMO) --delete
	$(PY) manage.py simulate_responses --experiment $(DEMO) --participants 24 --seed 0
	$(PY) manage.py analyze_ratings --experiment $(DEMO) --participants synthetic \
		--out $(DEMO_DIR)/report

serve:
	@echo "Participant URL: http://$(HOST):$(PORT)/study/$(DEMO)/?participant=demo-$$(date +%s)"
	@echo "Admin URL:       http://$(HOST):$(PORT)/admin/"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-test wordnet
	$(PY) -m pytest

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# WordNet 3.0 from Debian's wordnet-base and wordnet-sense-index, in NLTK's corpus layout
# (copies, not symlinks: NLTK refuses files that resolve outside its data root).
WORDNET_SRC ?= /usr/share/wordnet
NLTK_DATA ?= var/nltk_data

wordnet: $(NLTK_DATA)/corpora/wordnet/lexnames

$(NLTK_DATA)/corpora/wordnet/lexnames: analysis/data/wordnet_lexnames.txt
	@test -f $(WORDNET_SRC)/index.sense || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q wordnet-base wordnet-sense-index; }
	@test -f $(WORDNET_SRC)/index.sense || \
		{ echo "No WordNet in $(WORDNET_SRC): apt-get install wordnet-base wordnet-sense-index"; exit 1; }
	mkdir -p $(@D)
	cp -L $(WORDNET_SRC)/*.* $(@D)/
	cp analysis/data/wordnet_lexnames.txt $@

clean:
	rm -rf var/ .pytest_cache
