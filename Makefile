# Two commands do all set-up: `make demo` (install, write example data, train + predict) and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test wheel

install:
	$(PIP) install -q -e ".[spark]"

install-test:
	$(PIP) install -q -e ".[test]"

demo: install
	automl demo-data --out data
	automl train --config configs/demand.yaml
	automl predict --config configs/demand.yaml

test: install-test
	$(PYTHON) -m pytest

wheel:
	$(PIP) wheel --no-deps -w dist .
