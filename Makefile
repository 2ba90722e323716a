# The two commands: `make run` serves the API with demo data, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest client openapi bench bench-instructions bench-embedded bench-reads bench-audit bench-warnings bench-export bench-console bench-serving clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs are pinned by constraints.txt so the OpenAPI document and type checks do not drift.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/fangfanpin migrate
	$(BIN)/fangfanpin demo
	@echo
	@echo "Get a token:   curl -X POST http://127.0.0.1:8000/api/v1/demo/tokens -H 'Content-Type: application/json' -d '{\"user\": \"cadre.pinggang\"}'"
	@echo "               (minted on the demo clock; or: $(BIN)/fangfanpin token --user cadre.pinggang)"
	@echo "Then:          curl -H \"Authorization: Bearer \$$TOKEN\" http://127.0.0.1:8000/api/v1/cases"
	@echo "Walk-throughs: README.md, section Walk-throughs"
	@echo "Console:       http://127.0.0.1:8000/console/ (pick a demo user)"
	@echo "API docs:      http://127.0.0.1:8000/docs"
	@echo
	FANGFANPIN_DEMO=1 $(BIN)/fangfanpin serve --host 127.0.0.1 --port 8000 --with-worker

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The suite runs on SQLite, and on PostgreSQL too when TEST_POSTGRES_URL answers
# (REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure). It also checks that
# the migrations match the models (alembic check) and that openapi/openapi.json is current.
pytest: $(VENV)/.installed-dev node_modules/.package-lock.json
	$(BIN)/pytest

# The TypeScript side, from the committed lockfile: the generated client must match the
# document and compile under tsc --strict with its usage example; the docs' assets must be the
# pinned packages' files. playwright-core (browser tests) comes with it.
node_modules/.package-lock.json: package.json package-lock.json clients/typescript/package.json console/package.json
	npm ci --no-audit --no-fund
	touch $@

# ... and the console: type-checked, rebuilt and compared with the committed build in
# app/static/console (which `make run` serves as it is: `npm run build --workspace console`
# after changing console/).
client: node_modules/.package-lock.json
	npm run --silent test:client
	npm run --silent test:console
	node scripts/docs-assets.mjs --check

test: lint typecheck client pytest

# Regenerate what is generated from the code: the OpenAPI document and the README's diagram.
openapi: $(VENV)/.installed node_modules/.package-lock.json
	$(BIN)/fangfanpin openapi --output openapi/openapi.json
	npm run --silent --workspace clients/typescript generate
	$(BIN)/fangfanpin diagram --readme README.md

# The benchmarks run on the venv's interpreter, and its build moves the server's CPU as much as
# a change of code: the deploy image's Python is built with PGO and LTO, pyenv's is not. To
# measure as the image serves, give them an optimized interpreter in a venv of its own, e.g.
#   make bench PYTHON=/usr/bin/python3.11 VENV=.venv-pgo    (Debian's, optimized)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.transitions

bench-instructions: $(VENV)/.installed-dev
	$(BIN)/python -m bench.instructions

bench-embedded: $(VENV)/.installed-dev
	$(BIN)/python -m bench.transitions --database-url sqlite+aiosqlite:///$(CURDIR)/.bench-embedded.sqlite3

bench-reads: $(VENV)/.installed-dev
	$(BIN)/python -m bench.reads

bench-audit: $(VENV)/.installed-dev
	$(BIN)/python -m bench.audit_verify

bench-warnings: $(VENV)/.installed-dev
	$(BIN)/python -m bench.warning_batch

bench-export: $(VENV)/.installed-dev
	$(BIN)/python -m bench.national_export --reuse --client curl --runs 5

bench-serving: $(VENV)/.installed-dev
	$(BIN)/python -m bench.serving

bench-console: $(VENV)/.installed-dev node_modules/.package-lock.json
	$(BIN)/python -m bench.console --cases 500

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
