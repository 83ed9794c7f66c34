import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _require_postgres():
    """Every race here needs real row locks and connections of its own: PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks: set DATABASE_URL to a PostgreSQL database")
