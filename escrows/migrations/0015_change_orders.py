"""Change orders on a funded escrow: the proposal (one open per escrow), the terms version its
acceptance makes, the ledger's change-order posting; and the same database guard on its status
as disputes, refund requests and cancellation proposals (0010): it moves only along the FSM's
transitions."""

import importlib

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models

import escrows.models.agreements

guards = importlib.import_module("escrows.migrations.0006_beyond_status_guards")

TRANSITIONS = {
    "escrows_changeproposal": [
        ("OPEN", "ACCEPTED"),
        ("OPEN", "DECLINED"),
        ("OPEN", "WITHDRAWN"),
        ("OPEN", "LAPSED"),
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

    dependencies = [
        ('escrows', '0014_terms_versions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgertransaction',
            name='kind',
            field=models.CharField(choices=[('FUNDING', 'Escrow funded'), ('RELEASE', 'Milestone released'), ('REFUND', 'Refund'), ('TOPUP', 'Wallet top-up'), ('PAYOUT_RESERVE', 'Payout scheduled'), ('PAYOUT_PAID', 'Payout paid'), ('PAYOUT_RETURN', 'Payout failed, returned'), ('SPLIT', 'Split between payee and buyer'), ('CANCELLATION', 'Mutual cancellation'), ('CHANGE_ORDER', 'Change order')], max_length=20),
        ),
        migrations.CreateModel(
            name='ChangeProposal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.CharField(default=escrows.models.agreements.new_change_proposal_id, editable=False, max_length=40, unique=True)),
                ('proposer_role', models.CharField(max_length=10)),
                ('changes', models.JSONField()),
                ('note', models.TextField(blank=True)),
                ('amount_before', models.BigIntegerField()),
                ('amount_after', models.BigIntegerField()),
                ('pay_source', models.CharField(blank=True, max_length=10)),
                ('card_token', models.CharField(blank=True, max_length=100)),
                ('status', django_fsm.FSMField(choices=[('OPEN', 'Open'), ('ACCEPTED', 'Accepted'), ('DECLINED', 'Declined'), ('WITHDRAWN', 'Withdrawn'), ('LAPSED', 'Lapsed')], default='OPEN', max_length=50, protected=True)),
                ('decline_reason', models.TextField(blank=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('lapses_at', models.DateTimeField()),
                ('paid_amount', models.BigIntegerField(default=0)),
                ('paid_fee', models.BigIntegerField(default=0)),
                ('paid_from', models.CharField(blank=True, max_length=10)),
                ('gateway_reference', models.CharField(blank=True, max_length=200)),
                ('refunded_amount', models.BigIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='change_proposals_decided', to=settings.AUTH_USER_MODEL)),
                ('escrow', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='change_proposals', to='escrows.escrow')),
                ('proposed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='change_proposals', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='termsversion',
            name='change_proposal',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='terms_version', to='escrows.changeproposal'),
        ),
        migrations.AddIndex(
            model_name='changeproposal',
            index=models.Index(condition=models.Q(('status', 'OPEN')), fields=['lapses_at'], name='change_proposal_open_lapse'),
        ),
        migrations.AddConstraint(
            model_name='changeproposal',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'OPEN')), fields=('escrow',), name='change_proposal_one_open'),
        ),
        migrations.AddConstraint(
            model_name='changeproposal',
            constraint=models.CheckConstraint(condition=models.Q(('amount_before__gt', 0), ('amount_after__gt', 0)), name='change_proposal_amounts_positive'),
        ),
        migrations.AddConstraint(
            model_name='changeproposal',
            constraint=models.CheckConstraint(condition=models.Q(('paid_amount__gte', 0), ('paid_fee__gte', 0), ('refunded_amount__gte', 0)), name='change_proposal_money_nonnegative'),
        ),
        migrations.RunPython(forward, reverse),
    ]
