"""Disputes, refund requests and cancellation proposals get the same database guard as escrows,
milestones and settlements (0003/0006): their status moves only along the FSM's transitions."""

import importlib

from django.db import migrations

guards = importlib.import_module("escrows.migrations.0006_beyond_status_guards")

TRANSITIONS = {
    "escrows_dispute": [
        ("OPEN", "ANSWERED"),
        ("OPEN", "RESOLVED"),
        ("ANSWERED", "RESOLVED"),
        ("OPEN", "WITHDRAWN"),
        ("ANSWERED", "WITHDRAWN"),
    ],
    "escrows_refundrequest": [
        ("REQUESTED", "ACCEPTED"),
        ("REQUESTED", "DECLINED"),
        ("REQUESTED", "WITHDRAWN"),
        ("REQUESTED", "SUPERSEDED"),
    ],
    "escrows_cancellationproposal": [
        ("PROPOSED", "ACCEPTED"),
        ("PROPOSED", "DECLINED"),
        ("PROPOSED", "WITHDRAWN"),
        ("PROPOSED", "SUPERSEDED"),
    ],
}


def forward(apps, schema_editor):
    guards._recreate(schema_editor, TRANSITIONS)


def reverse(apps, schema_editor):
    for table in TRANSITIONS:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_status_guard ON {table};")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_status_guard;")


class Migration(migrations.Migration):
    dependencies = [("escrows", "0009_clock")]
    operations = [migrations.RunPython(forward, reverse)]
