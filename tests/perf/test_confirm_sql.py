"""The pgbench ceiling runs exactly the SQL of a real confirm: the capture sees every statement
of services.milestone_release, and the template puts the target's ids and amounts in variables
(so each pgbench transaction releases another milestone) and leaves no captured id behind."""

import io
import re

from django.core.management import call_command

from bench.confirm_sql import _equalities, _target_of, _to_pgbench, capture_release
from escrows.models import Escrow, EscrowStatus, Milestone, MilestoneStatus


def test_a_captured_confirm_becomes_a_template_of_the_same_statements(db):
    call_command("generate_data", escrows=30, customers=4, seed=11, states="OPENED", stdout=io.StringIO())
    escrow = next(
        e
        for e in Escrow.objects.filter(status=EscrowStatus.OPENED).order_by("id")
        if e.milestones.filter(status=MilestoneStatus.PENDING).count() >= 2
    )
    milestone = Milestone.objects.select_related("escrow__buyer").get(
        escrow=escrow,
        status=MilestoneStatus.PENDING,
        index=escrow.milestones.filter(status="PENDING").order_by("index").first().index,
    )
    target = _target_of(milestone)

    statements, queries = capture_release(milestone)
    script = _to_pgbench("mid", statements, target)

    assert Milestone.objects.get(pk=milestone.pk).status == MilestoneStatus.RELEASED
    assert queries >= len(statements) == len(script.splitlines()) - 3  # \gset line, BEGIN, COMMIT
    lines = script.splitlines()
    assert lines[0].startswith("SELECT escrow_id, milestone_id") and lines[0].endswith("\\gset")
    assert lines[1] == "BEGIN;" and lines[-1] == "COMMIT;"
    body = "\n".join(lines[2:-1])
    for name in ("escrow_id", "milestone_id", "amount"):
        assert f":{name}" in body, name
    # The lock, and the milestone's update, name the target by variable, not the captured id.
    assert '"escrows_escrow"."id" = :escrow_id' in body
    assert 'WHERE "escrows_milestone"."id" = :milestone_id' in body
    # A fresh unique event id per transaction, not the captured one.
    assert "('evt_' || substr(md5(random()::text), 1, 24))" in body
    assert not re.search(r"'evt_[0-9a-f]{24}'", body)
    assert _equalities({"a": 1, "b": 2, "c": 1}) == " AND a = c"
