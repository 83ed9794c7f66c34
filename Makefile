.PHONY: serve test ci lint fmt

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
