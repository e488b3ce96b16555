# Every target bootstraps .venv itself (python3 -m venv + pip) on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-each campaign screenshots clean venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/calsync-tui demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

LINT_PATHS := calsync_tui local_store tests benchmarks

# Runs every linter even when an earlier one fails, then fails if any did.
lint: $(STAMP)
	@status=0; \
	echo "== ruff check"; $(BIN)/ruff check $(LINT_PATHS) || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check $(LINT_PATHS) || status=1; \
	echo "== mypy --strict (calsync_tui, local_store)"; $(BIN)/mypy || status=1; \
	echo "== lint-imports"; $(BIN)/lint-imports || status=1; \
	exit $$status

# Runs every benchmark (benchmarks/run.py calls the others), prints a table and writes
# benchmarks/results/latest.json. bench-each runs each benchmarks/<name>.py on its own.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-each: $(STAMP)
	@status=0; ran=0; \
	for f in benchmarks/*.py; do \
	  n=$$(basename $$f .py); [ "$$n" = "__init__" ] && continue; \
	  echo "== benchmarks.$$n"; ran=1; \
	  $(BIN)/python -m benchmarks.$$n || status=1; \
	done; \
	[ $$ran = 1 ] || { echo "no benchmark scripts in benchmarks/"; exit 1; }; \
	exit $$status

campaign: $(STAMP)
	$(BIN)/python -m pytest -q -m campaign

screenshots: $(STAMP)
	$(BIN)/python -m screenshots.make

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
