# Two commands a fresh clone needs: `make test` and `make demo`. Each bootstraps what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
AZURITE := node_modules/.bin/azurite-blob

.PHONY: test check demo lint bench emulator clean browser-deps postgres-deps system-deps team-db team-db-stop

# The locked packages are installed by uv (from the Python package index, as pip does), which unpacks and compiles
# them on every core: on a fresh 2-core machine beside two busy loops, set-up took 33 s instead of pip's 66 s.
# Where uv cannot be had or cannot reach the index (it does not read pip's configuration), pip installs them.
UV := uv==0.13.9
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(UV) \
		&& $(PY) -m uv pip install -q --python $(PY) --compile-bytecode -r requirements.lock \
		&& $(PY) -m uv pip install -q --python $(PY) --no-deps -e . \
		|| { echo 'uv could not install them (above): pip installs the locked packages instead' >&2; \
		     $(PY) -m pip install -q -r requirements.lock && $(PY) -m pip install -q --no-deps -e .; }
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# Azurite, Microsoft's storage emulator, from the npm registry (locked in package-lock.json).
$(AZURITE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AZURITE)

# Debian packages the suite needs, those missing installed in one apt run (two at once would fight over dpkg's
# lock): chromium, in which the browser test drives the real Prefect UI (no browser download), and PostgreSQL,
# on which the team tier's Prefect server runs, started by the project (amlops/postgres.py).
CHROMIUM_DEB = $(if $(shell command -v chromium),,chromium)
POSTGRES_DEB = $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql)
apt_install = @[ -z "$(strip $(1))" ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(1) >/dev/null; }
browser-deps:
	$(call apt_install,$(CHROMIUM_DEB))
postgres-deps:
	$(call apt_install,$(POSTGRES_DEB))
system-deps:
	$(call apt_install,$(CHROMIUM_DEB) $(POSTGRES_DEB))

# A PostgreSQL for a team's Prefect server in $(TEAM_DB) (127.0.0.1 only); prints the server's database URL.
TEAM_DB ?= .team/postgres
team-db: $(STAMP) postgres-deps
	$(PY) -m amlops.postgres start $(TEAM_DB)

team-db-stop: $(STAMP)
	$(PY) -m amlops.postgres stop $(TEAM_DB)

# The whole suite in parallel: each pytest-xdist worker runs its own emulator, Azurite and Prefect server on
# ports of their own; the tests mostly wait (on servers, on each other's processes), so there are more workers
# than cores: five kept a shared machine's cores busier than four (a fresh clone beside two busy loops: 9 min 54 s
# against 11 min 24 s), and six once stretched real-time tests past their deadlines. --dist loadgroup keeps the
# team tier (one PostgreSQL, server and pair of workers) and the browser tests (one UI server) each on one worker;
# the slowest start first (tests/conftest.py). `make test TEST_WORKERS=0` runs it in one process.
# mypy (a minute of one core on a fresh clone) runs beside the tests, which mostly wait; its verdict counts as lint's.
TEST_WORKERS ?= 5
# Bytecode is written for the run even where the shell says PYTHONDONTWRITEBYTECODE (some images do): else each of
# the suite's few hundred Python processes compiles the same amlops sources again (~0.25 CPU-s each).
test: export PYTHONDONTWRITEBYTECODE=
# What a fresh clone lacks is installed side by side (the venv, Azurite, Debian's packages), then the suite runs.
test:
	@$(MAKE) --no-print-directory -j3 --output-sync=target $(STAMP) $(AZURITE) system-deps
	$(PY) -m ruff check .
	@$(PY) -m mypy > $(VENV)/mypy.out 2>&1 & mypy=$$!; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup; status=$$?; \
	wait $$mypy || status=1; echo "$(PY) -m mypy"; cat $(VENV)/mypy.out; exit $$status

# The loop while editing, under a minute: lint, types, and the unit tests of the pure modules (no servers).
check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q -m unit -p no:xdist

demo: $(STAMP) $(AZURITE)
	$(PY) -m app.cli demo

# `make bench BENCH_ARGS=--quick`: each benchmark in its shortest form (the suite runs it so they cannot rot).
bench: $(STAMP) $(AZURITE) postgres-deps
	$(PY) -m bench.run_all $(BENCH_ARGS)

emulator: $(STAMP)
	$(PY) -m app.cli emulator --port 8443

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
