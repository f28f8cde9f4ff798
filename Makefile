# The two commands of the README: `make demo` and `make test`. Each creates .venv itself.
PYTEST_WORKERS ?= 2
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: venv demo test check lint typecheck bench clean

venv:
	@scripts/bootstrap

demo: venv
	.venv/bin/popreg demo

test: venv
	@scripts/services
	.venv/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

check: lint typecheck

lint: venv
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks scripts

typecheck: venv
	.venv/bin/mypy

bench: venv
	.venv/bin/python benchmarks/registry.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache popreg-demo.db*
