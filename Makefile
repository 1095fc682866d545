# Set-up and checks. `make demo` and `make test` work on a fresh clone: they create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
COMPAT_VENV := .venv-compat
# The declared minimum (setup.py's lower bounds; tests/test_packaging.py keeps them equal).
COMPAT_AIRFLOW := 3.3.0
COMPAT_POSTGRES := 6.2.0
COMPAT_COMMON_SQL := 1.32.0
COMPAT_OPENLINEAGE := 2.20.3
COMPAT_COMMON_IO := 1.11.0
PYTEST_ARGS ?=

.PHONY: install runtimes lint format test test-compat test-cloud test-cloud-run test-cloud-sweep \
	demo demo-ui demo-cluster test-cluster bench soak test-ui clean

# The repository holds several distributions: the provider (.), its pure core (core/), the offline
# SCF + COS emulator (emulator/) and the development helpers shared by the tests, benchmarks and
# demo (devel/). The provider's wheel holds only the provider.
DISTRIBUTIONS := -e ./core -e ./emulator -e ./devel -e '.[dev]'
PROJECT_FILES := setup.py pyproject.toml core/pyproject.toml emulator/pyproject.toml \
	devel/pyproject.toml

$(STAMP): $(PROJECT_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip setuptools wheel
	$(BIN)/python -m pip install -q $(DISTRIBUTIONS)
	touch $(STAMP)

# The emulator runs each SCF function on an interpreter of its runtime's Python version (SCF has
# no Python 3.11): CPython 3.9 is unpacked from Debian bullseye's packages into a shared cache
# outside the repository, once (later runs only check it).
runtimes: $(STAMP)
	$(BIN)/python -m scf_snova_emulator.provision

install: $(STAMP) runtimes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Offline: the system tests run against the emulator whatever SCF_SNOVA_TEST_CLOUD says.
test: install lint
	env -u SCF_SNOVA_TEST_CLOUD $(BIN)/pytest $(PYTEST_ARGS)

# The same system tests against Tencent Cloud: SCF, COS, CLS and Snova (docs/cloud-tests.md). It
# needs TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION, TENCENTCLOUD_APPID,
# SCF_SNOVA_TEST_BUCKET and SNOVA_TEST_DSN; without them it says which are missing and stops
# (status 0) before installing anything. It deletes what it created at the end; after a killed
# run, `make test-cloud-sweep TAG=<the run's tag>` (or STALE=<hours>) does.
CLOUD := PYTHONPATH=devel:core $(PYTHON) -m scf_snova_devel.cloud
CLOUD_SKIPPED := 3
test-cloud:
	@$(CLOUD) check; status=$$?; \
	if [ $$status -eq $(CLOUD_SKIPPED) ]; then exit 0; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	$(MAKE) --no-print-directory test-cloud-run

test-cloud-run: install
	SCF_SNOVA_TEST_CLOUD=1 $(BIN)/pytest tests/system -m "not emulator_only" --timeout=1800 \
		$(PYTEST_ARGS)

test-cloud-sweep: install
	$(BIN)/python -m scf_snova_devel.cloud sweep $(if $(TAG),--tag $(TAG),--stale $(or $(STALE),6))

# The declared minimum is a tested one: `make test`'s whole suite again on Airflow
# $(COMPAT_AIRFLOW) with the lowest providers setup.py allows (postgres, common-sql,
# openlineage, common-io).
$(COMPAT_VENV)/.installed-stamp: $(PROJECT_FILES) Makefile
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q -U pip setuptools wheel
	$(COMPAT_VENV)/bin/python -m pip install -q $(DISTRIBUTIONS) \
		'apache-airflow==$(COMPAT_AIRFLOW)' \
		'apache-airflow-providers-postgres==$(COMPAT_POSTGRES)' \
		'apache-airflow-providers-common-sql==$(COMPAT_COMMON_SQL)' \
		'apache-airflow-providers-openlineage==$(COMPAT_OPENLINEAGE)' \
		'apache-airflow-providers-common-io==$(COMPAT_COMMON_IO)'
	touch $@

test-compat: $(COMPAT_VENV)/.installed-stamp runtimes
	$(COMPAT_VENV)/bin/python -c "import airflow, sys; v = airflow.__version__; print('Airflow', v); sys.exit(v != '$(COMPAT_AIRFLOW)')"
	$(COMPAT_VENV)/bin/python -m pip list 2>/dev/null | grep -E '^apache-airflow(-providers-(postgres|common-sql|openlineage|common-io))? '
	env -u SCF_SNOVA_TEST_CLOUD $(COMPAT_VENV)/bin/pytest $(PYTEST_ARGS)

# The seed's workflows end to end on the embedded default (PostgreSQL + emulator), then a report.
demo: install
	$(BIN)/python scripts/demo.py

# The same setup under `airflow standalone`, to watch the runs in the Airflow UI.
demo-ui: install
	$(BIN)/python scripts/demo.py --ui

# A real CeleryExecutor cluster (Redis, scheduler, dag-processor, triggerer, api-server, two
# Celery workers) running the scenarios of docs/scaling.md; its figures go there.
demo-cluster: install
	$(BIN)/python -m pip install -q -e './devel[cluster]'
	$(BIN)/python scripts/demo_cluster.py --scale full --record-docs

# The same cluster and scenarios at a smaller scale, as a test.
test-cluster: install
	$(BIN)/python -m pip install -q -e './devel[cluster]'
	CLUSTER=1 $(BIN)/pytest -m cluster tests/cluster --timeout=1800 $(PYTEST_ARGS)

# Benchmarks (not tests): figures and charts into docs/benchmarks.md.
bench: install
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

# Long reliability runs (the short ones are part of `make test`).
soak: install
	SOAK=1 $(BIN)/pytest -m soak tests/reliability $(PYTEST_ARGS)

# The Airflow UI in a real browser (Debian chromium driven by Playwright).
test-ui: install
	bash tests/ui/run.sh

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .demo .demo-cluster build *.egg-info */*.egg-info */build
