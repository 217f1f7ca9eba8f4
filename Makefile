# The two commands the README gives: `make demo` and `make test`.
# Both create the virtual environment and install crm_ml into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.crm_ml-installed
SPARK_STAMP := $(VENV)/.crm_ml-spark-installed

.PHONY: install demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

# The tests also cover the optional Spark engine, so `make test` adds the spark extra.
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,spark]"
	touch $(SPARK_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-ml demo --output output

lint: $(STAMP)
	$(BIN)/ruff check crm_ml tests benchmarks

test: $(STAMP) $(SPARK_STAMP) lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts output
