.PHONY: run test lint bench clean

# Set up everything and run the app on the embedded default (http://127.0.0.1:8000/).
run:
	scripts/run.sh

# Set up everything and run the whole test suite (lint, types, unit, integration, browser).
test:
	scripts/test.sh

# Run every benchmark (about 40 minutes here; not part of the tests) and write bench/REPORT.md.
bench:
	.venv/bin/python bench/run.py

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && DJANGO_DEBUG=true EFT_ENV_FILE=none .venv/bin/mypy

clean:
	rm -rf .venv .test-data .mypy_cache .ruff_cache
