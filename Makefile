# The two commands the README gives: `make demo` and `make test`.
# Both create the virtual environment and install crm_ml into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.crm_ml-installed
SPARK_STAMP := $(VENV)/.crm_ml-spark-installed
DOCS_STAMP := $(VENV)/.crm_ml-docs-installed

.PHONY: install demo test lint docs clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]" -c constraints.txt
	touch $(STAMP)

# The tests also cover the optional Spark engine, so `make test` adds the spark extra.
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,spark]" -c constraints.txt
	touch $(SPARK_STAMP)

# The documentation site's tools (MkDocs Material, mkdocstrings, mkdocs-jupyter).
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,docs]" -c constraints.txt
	touch $(DOCS_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-ml demo --output output

lint: $(STAMP)
	$(BIN)/ruff check crm_ml tests benchmarks

# The site goes to site/; --strict turns every warning (a broken link, a renamed function in
# the API pages) into an error. API pages: docs/api/*.md, written by `python docs/gen_api.py`.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: $(STAMP) $(SPARK_STAMP) $(DOCS_STAMP) lint docs
	$(BIN)/python -m pytest

# Re-resolve every dependency to its newest release in a scratch venv and pin the result;
# run `make test` afterwards and commit constraints.txt only if it passes.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --upgrade pip
	.venv-constraints/bin/python -m pip install -e ".[dev,spark,docs]"
	{ sed -n '1,3p' constraints.txt; .venv-constraints/bin/pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts output site .cache
