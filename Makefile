# SafeTwin: the two commands of the README.
#   make run   install what is missing, build the web UI, start the embedded demo plant
#   make test  install what is missing and run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
WEB := viz/web
WEB_SRC := $(shell find $(WEB)/src -type f 2>/dev/null) $(wildcard $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig*.json)
PYTEST_ARGS ?=
# Test files run on this many pytest-xdist workers, a whole file per worker (module fixtures
# are built once). Half the suite waits on services and subprocesses: on a 2-core box two
# workers took 1,218 s where one took 2,074 s. TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2

.PHONY: run test install web lint bench clean

run: $(VENV)/.installed $(WEB)/dist/index.html
	$(VENV)/bin/safetwin run

test: $(VENV)/.installed-dev $(WEB)/dist/index.html
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12)), "SafeTwin needs Python 3.11 or 3.12 (bytewax 0.21.1 has no wheel for " + sys.version.split()[0] + ")"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB)/dist/index.html: $(WEB)/node_modules/.package-lock.json $(WEB_SRC)
	cd $(WEB) && npm run build --silent
	@touch $@

web: $(WEB)/dist/index.html

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed-dev
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b --quick | tail -1; done

clean:
	rm -rf var $(WEB)/dist
