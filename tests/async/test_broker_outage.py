"""The broker is down when a release commits: the release still succeeds, nothing is lost, and
process_due sends what could not be enqueued."""

import pytest
from django.db import connection

from escrow_site.celery import app
from escrows import services
from escrows.models import Event, Settlement, SettlementStatus
from escrows.tasks import run_timers
from tests.helpers import assert_ledger_invariants, fund, make_settling_escrow, milestones, refresh

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _require_postgres():
    # Real commits are needed, and only PostgreSQL can empty the append-only ledger afterwards.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL to a PostgreSQL database")


@pytest.fixture
def broker_down():
    # Only the address changes: the project's own broker settings keep the request from waiting.
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)  # nothing on port 1
    app._pool = None
    app.__dict__.pop("amqp", None)
    yield
    app.conf.update(saved)
    app._pool = None
    app.__dict__.pop("amqp", None)


def test_release_commits_and_the_sweep_pays_later(seller, buyer, broker_down, caplog):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)  # no exception
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.SCHEDULED
    assert Event.objects.filter(kind="milestone.released", dispatched_at__isnull=True).exists()
    assert "Error calling" in caplog.text or "could not enqueue" in caplog.text

    app.conf.update(broker_url="memory://", task_always_eager=True)  # the broker is back
    counts = run_timers()
    assert counts["settlements_retried"] == 1
    assert refresh(settlement).status == SettlementStatus.PAID
    assert_ledger_invariants()
