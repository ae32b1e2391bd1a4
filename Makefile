# The two commands a newcomer needs: `make demo` and `make test`.
# Both run the idempotent set-up first (system packages, .venv, images).
.PHONY: setup demo test bench lint fuzz

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/test.sh

bench: setup
	@.venv/bin/python bench/run.py

# mypy strict over the harness, the tests and the bench scripts, ruff's lint and its formatter
# over everything (their settings in pyproject.toml; `ruff format .` fixes the layout); make
# test runs it.
lint: setup
	@.venv/bin/mypy harness tests bench
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

# Fuzz the reference elfloader's CPIO/ELF parsers (fuzz/README.md): FUZZ_SECONDS in total,
# split over the targets; FUZZ_RUNS=N stops each target after N executions instead.
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?= 0
fuzz: setup
	@fuzz/run.sh $(if $(filter-out 0,$(FUZZ_RUNS)),0,$(FUZZ_SECONDS)) $(FUZZ_RUNS)
