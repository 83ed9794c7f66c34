"""Database-level guards under the ORM: status columns move only along the FSM's transitions
(from, to) — whatever writes the row, raw SQL included — and, on SQLite too, ledger
transactions are append-only like their entries (PostgreSQL got that in 0002).

The allowed pairs are written out here, not read from models.py, so that a migration keeps
meaning what it meant when it ran; tests/reliability/test_db_guards.py fails if they drift
from the transitions declared on the models."""

from django.db import migrations

TRANSITIONS = {
    "escrows_escrow": [
        ("AWAITING_PAYMENT", "OPENED"),
        ("AWAITING_PAYMENT", "CANCELLED"),
        ("OPENED", "COMPLETED"),
        ("OPENED", "DISPUTED"),
        ("OPENED", "REFUNDED"),
        ("DISPUTED", "OPENED"),
        ("DISPUTED", "COMPLETED"),
        ("DISPUTED", "REFUNDED"),
    ],
    "escrows_milestone": [
        ("PENDING", "COMPLETED"),
        ("PENDING", "RELEASED"),
        ("COMPLETED", "RELEASED"),
        ("PENDING", "REFUNDED"),
        ("COMPLETED", "REFUNDED"),
    ],
    "escrows_settlement": [
        ("SCHEDULED", "PROCESSING"),
        ("PROCESSING", "PAID"),
        ("PROCESSING", "SCHEDULED"),
        ("PROCESSING", "FAILED"),
        ("SCHEDULED", "FAILED"),
        ("FAILED", "SCHEDULED"),
    ],
}

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION status_transition_guard() RETURNS trigger AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status
     AND NOT ((OLD.status || '>' || NEW.status) = ANY (TG_ARGV)) THEN
    RAISE EXCEPTION 'illegal status transition on %: % -> %', TG_TABLE_NAME, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


def _pairs(table: str) -> list[str]:
    return [f"{a}>{b}" for a, b in TRANSITIONS[table]]


def _pg_forward() -> list[str]:
    sql = [PG_FUNCTION]
    for table in TRANSITIONS:
        args = ", ".join(f"'{p}'" for p in _pairs(table))
        sql.append(
            f"CREATE TRIGGER {table}_status_guard BEFORE UPDATE OF status ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION status_transition_guard({args});"
        )
    return sql


def _pg_reverse() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_status_guard ON {table};" for table in TRANSITIONS] + [
        "DROP FUNCTION IF EXISTS status_transition_guard();"
    ]


def _sqlite_forward() -> list[str]:
    sql = [
        "CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON escrows_ledgertransaction "
        "BEGIN SELECT RAISE(ABORT, 'ledger transactions are append-only'); END;",
        "CREATE TRIGGER ledger_transaction_no_delete BEFORE DELETE ON escrows_ledgertransaction "
        "BEGIN SELECT RAISE(ABORT, 'ledger transactions are append-only'); END;",
    ]
    for table in TRANSITIONS:
        allowed = ", ".join(f"'{p}'" for p in _pairs(table))
        sql.append(
            f"CREATE TRIGGER {table}_status_guard BEFORE UPDATE OF status ON {table} "
            f"WHEN NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({allowed}) "
            f"BEGIN SELECT RAISE(ABORT, 'illegal status transition on {table}'); END;"
        )
    return sql


def _sqlite_reverse() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS ledger_transaction_no_update;",
        "DROP TRIGGER IF EXISTS ledger_transaction_no_delete;",
    ] + [f"DROP TRIGGER IF EXISTS {table}_status_guard;" for table in TRANSITIONS]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _pg_forward, "sqlite": _sqlite_forward}.get(vendor, list)()
    for sql in statements:
        schema_editor.execute(sql, params=None)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _pg_reverse, "sqlite": _sqlite_reverse}.get(vendor, list)()
    for sql in statements:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("escrows", "0002_ledger_guards")]
    operations = [migrations.RunPython(forward, reverse)]
