.PHONY: serve test ci lint fmt bench

serve:
	python3 dev.py serve

test:
	python3 dev.py test

ci:
	bash .ci/run

lint:
	.venv/bin/ruff check .

fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# Load test of the hot paths against the production server setup and the database's ceiling
# (see README "Performance"). Needs PostgreSQL on 127.0.0.1, wrk and pgbench; not part of CI.
bench:
	python3 dev.py setup
	.venv/bin/python -m bench.run
