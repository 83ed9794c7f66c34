"""Terms versions on escrows and payments; payment references unique per payer, not globally.
SQLite rebuilds the escrow table to add a NOT NULL column, which drops its status guard trigger:
the guard of 0006 is put back."""

import importlib

from django.conf import settings
from django.db import migrations, models

# 0010 re-created the guards of the other tables with 0006's helper; the escrow table's pairs
# are still 0006's.
previous = importlib.import_module("escrows.migrations.0010_request_status_guards")
ESCROW_GUARD = {"escrows_escrow": previous.guards.TRANSITIONS["escrows_escrow"]}


def restore_escrow_guard(apps, schema_editor):
    previous.guards._recreate(schema_editor, ESCROW_GUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("escrows", "0010_request_status_guards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="escrow",
            name="terms_version",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="payment",
            name="terms_version",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="payment",
            name="reference",
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                fields=("payer", "reference"), name="payment_reference_per_payer"
            ),
        ),
        migrations.RunPython(restore_escrow_guard, restore_escrow_guard),
    ]
