# The two commands of the README. Everything else is in dev/.
.PHONY: run test lint setup

setup: .venv/.installed

.venv/.installed: pyproject.toml dev/setup.sh
	dev/setup.sh

run: setup
	.venv/bin/python dev/run.py

test: setup
	.venv/bin/python dev/test.py $(ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
