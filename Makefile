# dreamlib: every set-up step lives here, so a fresh clone needs only `make reproduce` / `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= default
# DRY_RUN=1: print the plan, then run every notebook at the profile's model sizes on generated
# data and random-weight encoders, a few steps per run (dreamlib/dryrun.py)
DRY_RUN ?=
# Offline by default: weights and data come from packages, the embedded encoders and --data-dir.
export HF_HUB_OFFLINE ?= 1
export HF_HOME ?= $(CURDIR)/.cache/huggingface
# No MPLBACKEND here: with it set, ipykernel skips its inline backend and executed notebooks
# hold no figures. Headless matplotlib falls back to Agg by itself.
export TOKENIZERS_PARALLELISM ?= false

.PHONY: env data-packages reproduce test test-fast lab lint clean check-pages chromium

env: $(STAMP)

# The venv is rebuilt when the dependency list or the lock (constraints.txt) changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	$(MAKE) --no-print-directory data-packages
	touch $(STAMP)

# Debian data packages for the offline datasets (fashion-mnist, fortunes, wordnet-nouns).
data-packages:
	@if [ -d /usr/share/datasets/fashion-mnist ] && [ -d /usr/share/games/fortunes ] \
	     && [ -f /usr/share/wordnet/data.noun ]; then \
	  echo "data packages present"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist fortunes wordnet-base >/dev/null; \
	else \
	  echo "NOTE: install the Debian packages dataset-fashion-mnist, fortunes and wordnet-base (sudo"; \
	  echo "      apt-get install dataset-fashion-mnist fortunes wordnet-base), or pass --data-dir;"; \
	  echo "      tests that need them are skipped."; \
	fi

reproduce: env
	$(PY) -m dreamlib reproduce --profile $(PROFILE) $(if $(DRY_RUN),--dry-run)

# The gate (what CI runs): every test, then nbval over the notebooks. They are saved to read
# the committed results (profile default, train False); nbval runs copies that train the smoke
# profile instead (tools/smoke_notebooks.py), as the batch injects its parameters.
NBVAL_DIR := .cache/nbval
test: env
	$(PY) -m pytest -q tests
	$(PY) tools/smoke_notebooks.py $(NBVAL_DIR)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env $(NBVAL_DIR)

# The inner loop: everything but the tests marked slow (reproduce batch, kills, workers,
# distributed, compile), in a few minutes.
test-fast: env
	$(PY) -m pytest -q -m "not slow" tests

# The HTML pages of results/html open offline: each is rendered in headless Chromium with the
# network off, and any fetch from outside the repository, missing image or broken local link
# fails it (tools/check_pages.py). HTML=DIR checks another folder of pages.
HTML ?= results/html
check-pages: env chromium
	$(PY) tools/check_pages.py $(HTML)

# Debian's chromium, for check-pages (as data-packages: installed when apt-get and root allow).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  true; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "NOTE: check-pages needs Chromium: sudo apt-get install chromium"; exit 1; \
	fi

lab: env
	$(PY) -m jupyter lab notebooks/00_overview.ipynb

lint: env
	$(PY) -m ruff check dreamlib tests || echo "ruff not installed: pip install ruff"

clean:
	rm -rf runs/ .cache/ .pytest_cache */__pycache__ */*/__pycache__
