# The two commands of the README. Everything else is in dev/.
.PHONY: run test lint setup

setup: .venv/.installed

.venv/.installed: pyproject.toml dev/setup.sh
	dev/setup.sh

run: setup
	.venv/bin/python dev/run.py

# Two pytest processes (pytest-xdist): most tests wait on a rollout, a worker or a browser, so
# two share two cores well (15 -> 10 minutes). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: setup
	.venv/bin/python dev/test.py -n $(TEST_WORKERS) $(ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
