"""Agreed terms: a version of an escrow's terms per change, with who proposed it and when each
party agreed. Every existing escrow gets its current version recorded: proposed and agreed by
the seller when it was last set (created, or its last edit or added stage), agreed by the buyer
when it was funded."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH = 500
# The events after which an escrow's current terms were set, newest wins.
TERMS_EVENTS = ("escrow.edited", "milestone.created")


def _snapshot(escrow, stages, customers):
    # The same shape as services.agreements._terms_snapshot writes.
    return {
        "title": escrow.title,
        "currency": escrow.currency,
        "amount": escrow.amount,
        "fee": escrow.fee,
        "feeSchedule": escrow.fee_schedule_version,
        "whoPays": escrow.who_pays,
        "inspectionPeriodDays": escrow.inspection_period.days,
        "milestones": [
            {
                "id": m.public_id,
                "index": m.index,
                "title": m.title,
                "description": m.description,
                "amount": m.amount,
                "dueDate": m.due_date.isoformat() if m.due_date else None,
                "payee": customers.get(m.payee_id) if m.payee_id is not None else None,
            }
            for m in sorted(stages, key=lambda m: m.index)
        ],
    }


def record_current_versions(apps, schema_editor):
    Escrow = apps.get_model("escrows", "Escrow")
    Milestone = apps.get_model("escrows", "Milestone")
    Event = apps.get_model("escrows", "Event")
    TermsVersion = apps.get_model("escrows", "TermsVersion")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    recorded = set(TermsVersion.objects.values_list("escrow_id", "number"))
    last_pk = 0
    while True:
        escrows = list(Escrow.objects.filter(pk__gt=last_pk).order_by("pk")[:BATCH])
        if not escrows:
            return
        last_pk = escrows[-1].pk
        ids = [e.pk for e in escrows]
        stages: dict[int, list] = {}
        for m in Milestone.objects.filter(escrow_id__in=ids):
            stages.setdefault(m.escrow_id, []).append(m)
        payees = {m.payee_id for ms in stages.values() for m in ms if m.payee_id is not None}
        customers = dict(User.objects.filter(pk__in=payees).values_list("pk", "customer_id")) if payees else {}
        set_at = dict(
            Event.objects.filter(escrow_id__in=ids, kind__in=TERMS_EVENTS)
            .values("escrow_id")
            .annotate(at=models.Max("created_at"))
            .values_list("escrow_id", "at")
        )
        TermsVersion.objects.bulk_create(
            [
                TermsVersion(
                    escrow_id=e.pk,
                    number=e.terms_version,
                    reason="created" if e.terms_version == 1 else "edited",
                    terms=_snapshot(e, stages.get(e.pk, []), customers),
                    changes=[],
                    proposed_by_id=e.seller_id,
                    proposer_role="seller",
                    proposed_at=set_at.get(e.pk) or e.created_at,
                    seller_agreed_at=set_at.get(e.pk) or e.created_at,
                    buyer_agreed_at=e.funded_at,
                )
                for e in escrows
                if (e.pk, e.terms_version) not in recorded
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("escrows", "0013_milestone_partial_release_changes_due_dates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TermsVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("edited", "Edited"),
                            ("stage_added", "Stage added"),
                            ("change_order", "Change order"),
                        ],
                        max_length=20,
                    ),
                ),
                ("terms", models.JSONField()),
                ("changes", models.JSONField(blank=True, default=list)),
                ("proposer_role", models.CharField(max_length=10)),
                ("proposed_at", models.DateTimeField()),
                ("seller_agreed_at", models.DateTimeField(blank=True, null=True)),
                ("buyer_agreed_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "escrow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="terms_versions",
                        to="escrows.escrow",
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="terms_proposed",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["escrow_id", "number"],
                "constraints": [
                    models.UniqueConstraint(fields=("escrow", "number"), name="terms_version_unique_number")
                ],
            },
        ),
        migrations.RunPython(record_current_versions, migrations.RunPython.noop),
    ]
