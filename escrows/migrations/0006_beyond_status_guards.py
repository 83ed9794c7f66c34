"""Milestone disputes, split settlements and mutual cancellation add status moves; the
database guards of 0003 are re-created with the new allowed (from, to) pairs."""

import importlib

from django.db import migrations

guards = importlib.import_module("escrows.migrations.0003_rel_status_guards")

TRANSITIONS = {
    "escrows_escrow": [
        *guards.TRANSITIONS["escrows_escrow"],
        ("OPENED", "CANCELLED"),
        ("DISPUTED", "CANCELLED"),
    ],
    "escrows_milestone": [
        *guards.TRANSITIONS["escrows_milestone"],
        ("PENDING", "DISPUTED"),
        ("COMPLETED", "DISPUTED"),
        ("DISPUTED", "PENDING"),
        ("DISPUTED", "COMPLETED"),
        ("DISPUTED", "RELEASED"),
        ("DISPUTED", "REFUNDED"),
        ("PENDING", "SPLIT"),
        ("COMPLETED", "SPLIT"),
        ("DISPUTED", "SPLIT"),
    ],
    "escrows_settlement": guards.TRANSITIONS["escrows_settlement"],
}


def _recreate(schema_editor, transitions: dict) -> None:
    vendor = schema_editor.connection.vendor
    for table, pairs in transitions.items():
        allowed = ", ".join(f"'{a}>{b}'" for a, b in pairs)
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_status_guard ON {table};")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_status_guard BEFORE UPDATE OF status ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION status_transition_guard({allowed});"
            )
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_status_guard;")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_status_guard BEFORE UPDATE OF status ON {table} "
                f"WHEN NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({allowed}) "
                f"BEGIN SELECT RAISE(ABORT, 'illegal status transition on {table}'); END;"
            )


def forward(apps, schema_editor):
    _recreate(schema_editor, TRANSITIONS)


def reverse(apps, schema_editor):
    _recreate(schema_editor, guards.TRANSITIONS)


class Migration(migrations.Migration):
    dependencies = [("escrows", "0005_beyond_statuses")]
    operations = [migrations.RunPython(forward, reverse)]
