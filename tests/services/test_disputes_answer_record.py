"""A long answer to a dispute is kept whole on the dispute; its event (the audit trail and the
webhook payload) carries its first 2000 characters."""

import pytest

from escrows import services
from escrows.models import Event
from tests.helpers import milestones, refresh

pytestmark = pytest.mark.django_db


def test_the_answer_event_carries_the_first_2000_characters_of_the_reason(funded, seller, buyer):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    text = "".join(f"{i % 10}" for i in range(2500))
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text=text)
    assert refresh(dispute).answer_text == text
    assert Event.objects.get(kind="dispute.answered").details == {
        "dispute": dispute.public_id,
        "answer": "contest",
        "answeredBy": "seller",
        "reason": text[:2000],
    }
