# Two commands on a fresh machine: `make run` and `make test`. Everything installs into .venv.
VENV    ?= .venv
PYTHON  ?= python3
PORT    ?= 5000
WORKERS ?= 2
# Seconds a request may run before gunicorn restarts its worker: confirming an import of
# 50,000 firms (the most one file may hold) takes about 40 s on SQLite.
TIMEOUT ?= 120
# Test processes (pytest-xdist): one per core; TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= auto
BIN     := $(VENV)/bin
FLASK   := $(BIN)/flask --app wsgi
# The install re-runs whenever pyproject.toml changes.
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install translations i18n run test test-postgres lint format bench fuzz clean

install: $(STAMP) translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Compiled catalogues are build output (.gitignore): made from the .po files on every install.
translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d translations -D messages

# After adding or changing interface text: refresh the catalogue, then translate the new
# entries in translations/zh_Hans_CN/LC_MESSAGES/messages.po (tests/test_i18n.py lists any missing).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l zh_Hans_CN --no-fuzzy-matching --ignore-obsolete

run: install
	$(FLASK) db upgrade
	$(FLASK) crm seed-demo --scale small --if-empty
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --timeout $(TIMEOUT) \
		--access-logfile - wsgi:app

test: install
	$(BIN)/pytest -n $(TEST_WORKERS)

test-postgres: install
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/pytest -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench stats --scale city

# Schemathesis against /api/v1/openapi.json with many more examples than the normal suite,
# and its coverage phase (boundary values, wrong types) on.
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/test_api_fuzz.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
