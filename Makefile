.PHONY: serve test ci lint typecheck fmt bench reliability mutation

serve:
	python3 dev.py serve

test:
	python3 dev.py test

ci:
	bash .ci/run

lint:
	python3 dev.py lint

# mypy with the Django and DRF stubs over the code, not the tests ([tool.mypy] in pyproject.toml); CI runs it.
typecheck:
	python3 dev.py typecheck

fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# Load test of the hot paths against the production server setup and the database's ceiling
# (docs/performance.md). Needs PostgreSQL on this host, wrk and pgbench; not part of CI.
bench:
	python3 dev.py setup
	.venv/bin/python -m bench.run

# The reliability suite (tests/reliability, the races in tests/races, the no-500 fuzzing) and the
# table of what it measured. Set DATABASE_URL to a PostgreSQL database for the races;
# RELIABILITY_SCALE=10 for a nightly-size run.
reliability:
	python3 dev.py test tests/reliability tests/races tests/api/test_no_500.py -p no:cacheprovider; status=$$?; \
	.venv/bin/python -m tests.reliability.figures; exit $$status

# Mutation testing of the money and access rules (docs/mutation.md): mutmut on SQLite, then the
# score per module and the mutants no test kills. One to two hours from scratch; not part of CI.
# MUTATION_JOBS=N sets the workers (default: one per CPU); `rm -rf mutants` starts afresh.
mutation:
	python3 dev.py setup
	.venv/bin/python tools/mutation.py run; status=$$?; \
	.venv/bin/python tools/mutation.py report; exit $$status
