"""Partial release, changes requested on a delivered stage, due-date reminders."""

import importlib

from django.conf import settings
from django.db import migrations, models

guards = importlib.import_module("escrows.migrations.0006_beyond_status_guards")

# The buyer may send a delivered stage back ("request changes"): delivered to in progress.
MILESTONE_GUARD = {
    "escrows_milestone": [*guards.TRANSITIONS["escrows_milestone"], ("COMPLETED", "PENDING")],
}


def forward(apps, schema_editor):
    guards._recreate(schema_editor, MILESTONE_GUARD)


def reverse(apps, schema_editor):
    guards._recreate(schema_editor, {"escrows_milestone": guards.TRANSITIONS["escrows_milestone"]})


class Migration(migrations.Migration):
    dependencies = [
        ("escrows", "0012_invited_buyer_email_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="milestone",
            name="changes_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="milestone",
            name="changes_requested_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="milestone",
            name="changes_requested_note",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="milestone",
            name="due_reminder_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="milestone",
            name="overdue_notified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="milestone",
            name="released_part",
            field=models.BigIntegerField(default=0, help_text="Minor units released so far"),
        ),
        migrations.AddConstraint(
            model_name="milestone",
            constraint=models.CheckConstraint(
                condition=models.Q(("released_part__gte", 0), ("released_part__lt", models.F("amount"))),
                name="milestone_released_part_below_amount",
            ),
        ),
        migrations.RunPython(forward, reverse),
    ]
