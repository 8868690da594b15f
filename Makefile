# The two commands a new user needs (see README.md):
#   make run    a dev agent on http://127.0.0.1:4646 with the dashboard and an example job
#   make test   the whole test suite
# Both create the virtualenv and install everything they need first.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# Debian packages the test suite drives for real: a headless browser for the dashboard,
# rsyslog for remote syslog, shellcheck for the appliance's shell files.
TEST_DEBS = chromium chromium-driver rsyslog shellcheck
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint setup test-deps bench clean

run: setup
	$(BIN)/nomadjail agent -dev -import-jobs examples

test: setup test-deps
	$(BIN)/pytest -n 2 tests

# The gate CI runs before the tests: ruff (style, imports, bug patterns) on the code,
# tests and benchmarks; mypy on the package (settings in pyproject.toml).
lint: setup
	$(BIN)/ruff check nomadjail tests bench
	$(BIN)/mypy

# Figures, never pass/fail: each script prints what it measured (see README.md).
bench: setup
	$(BIN)/python bench/run_to_running.py
	$(BIN)/python bench/scheduler_placements.py
	$(BIN)/python bench/agent_memory.py
	$(BIN)/python bench/raft_apply.py
	$(BIN)/python bench/service_registration.py
	$(BIN)/python bench/nomad_service_registration.py
	$(BIN)/python bench/gotemplate_render.py

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

test-deps:
	@missing=""; for deb in $(TEST_DEBS); do \
	  dpkg -s $$deb >/dev/null 2>&1 || missing="$$missing $$deb"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
