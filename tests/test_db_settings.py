"""The PostgreSQL connection options the settings compose (generic plans for the prepared hot
statements), read in a child process so that each case gets its own environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
)


def _options(**env: str) -> dict:
    # Each case starts from the defaults, whatever the environment running the tests sets.
    knobs = (
        "PGOPTIONS",
        "DB_GENERIC_PLANS",
        "DB_PREPARE_HOT",
        "DB_SERVER_SIDE_BINDING",
        "DB_PREPARE_THRESHOLD",
        "HOT_STATEMENTS",
    )
    base = {k: v for k, v in os.environ.items() if k not in knobs}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "escrow_site.settings",
            "DATABASE_URL": "postgres://app@db.invalid:5432/escrow",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


GENERIC = "-c plan_cache_mode=force_generic_plan"


def test_prepared_statements_get_generic_plans_by_default():
    assert _options()["options"] == GENERIC


def test_an_operators_pgoptions_are_kept():
    # libpq's `options` connection parameter replaces PGOPTIONS rather than adding to it.
    assert (
        _options(PGOPTIONS="-c statement_timeout=5000")["options"] == f"-c statement_timeout=5000 {GENERIC}"
    )


def test_generic_plans_can_be_left_to_postgresql():
    assert "options" not in _options(DB_GENERIC_PLANS="0")


def test_not_with_server_side_binding_where_djangos_own_statements_would_get_them():
    assert "options" not in _options(DB_SERVER_SIDE_BINDING="1")


def test_not_without_prepared_statements():
    assert "options" not in _options(DB_PREPARE_HOT="0")


def test_nothing_prepared_with_the_hot_statements_off():
    """HOT_STATEMENTS=0: every statement is the plain ORM's, so nothing is prepared and nothing
    needs a generic plan."""
    options = _options(HOT_STATEMENTS="0")
    assert "options" not in options and "prepare_threshold" not in options
