# The two commands a newcomer needs: `make demo` and `make test`.
# Both run the idempotent set-up first (system packages, .venv, images).
.PHONY: setup demo test bench lint

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/test.sh

bench: setup
	@.venv/bin/python bench/run.py

lint:
	@.venv/bin/mypy harness
