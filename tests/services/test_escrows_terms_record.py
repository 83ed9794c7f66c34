"""Creating, editing and adding to an escrow leave an exact record: every term stored as given,
the event each writes (the audit trail and the webhook payload) in full, and each refusal's
message and field as a client sees them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services
from escrows.models import Escrow, EscrowStatus, Event, Milestone, MilestoneStatus
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import at, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def record(event):
    return {
        "kind": event.kind,
        "escrow": event.escrow_id,
        "milestone": event.milestone_id,
        "actor": event.actor_id,
        "actor_kind": event.actor_kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "details": event.details,
    }


def last_event(escrow, kind):
    return Event.objects.filter(escrow=escrow, kind=kind).latest("id")


def refused(exc_type, call):
    with pytest.raises(exc_type) as exc:
        call()
    return exc.value.message, exc.value.field


# -- creating ------------------------------------------------------------------------------------


def test_every_term_is_stored_as_given_and_the_creation_recorded(seller, buyer):
    due = timezone.now() + timedelta(days=9)
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(
            title="  Website build  ",
            currency="eur",
            amount=100_000,
            description="Three pages",
            release_type="DELIVERY_PROOF",
            auto_release_on_proof=True,
            intent_type="service",
            settlement_method="OFF_RAMP_MOCK",
            settlement_destination="  IBAN DE00  ",
            max_delivery=7,
            delivery_timeline="one week",
            total_quantity=3,
            category_id="cat_web",
            metadata={"order": "A-1"},
            inspection_period=timedelta(days=3),
        ),
        milestones=[
            MilestoneInput(
                amount=40_000,
                title="  " + "D" * 210,
                description="mockups",
                percentage=Decimal("40"),
                payee=buyer,
                due_date=due,
            ),
            MilestoneInput(amount=60_000, title="Build"),
        ],
    )
    escrow = refresh(escrow)
    stored = {
        f: getattr(escrow, f)
        for f in (
            "seller_id",
            "buyer_id",
            "title",
            "description",
            "currency",
            "amount",
            "fee",
            "who_pays",
            "settlement_type",
            "release_type",
            "auto_release_on_proof",
            "intent_type",
            "settlement_method",
            "settlement_destination",
            "max_delivery",
            "delivery_timeline",
            "total_quantity",
            "category_id",
            "metadata",
            "inspection_period",
            "status",
        )
    }
    assert stored == {
        "seller_id": seller.pk,
        "buyer_id": buyer.pk,
        "title": "Website build",
        "description": "Three pages",
        "currency": "EUR",
        "amount": 100_000,
        "fee": 1_500,
        "who_pays": "buyer",
        "settlement_type": "MILESTONE",
        "release_type": "DELIVERY_PROOF",
        "auto_release_on_proof": True,
        "intent_type": "service",
        "settlement_method": "OFF_RAMP_MOCK",
        "settlement_destination": "IBAN DE00",
        "max_delivery": 7,
        "delivery_timeline": "one week",
        "total_quantity": 3,
        "category_id": "cat_web",
        "metadata": {"order": "A-1"},
        "inspection_period": timedelta(days=3),
        "status": EscrowStatus.AWAITING_PAYMENT,
    }
    first, second = milestones(escrow)
    assert [
        (m.index, m.title, m.description, m.amount, m.percentage, m.payee_id, m.due_date)
        for m in (first, second)
    ] == [
        (0, "D" * 200, "mockups", 40_000, Decimal("40"), buyer.pk, due),
        (1, "Build", "", 60_000, None, None, None),
    ]
    assert record(last_event(escrow, "escrow.created")) == {
        "kind": "escrow.created",
        "escrow": escrow.pk,
        "milestone": None,
        "actor": seller.pk,
        "actor_kind": "user",
        "from_status": "",
        "to_status": "AWAITING_PAYMENT",
        "details": {
            "amount": 100_000,
            "fee": 1_500,
            "currency": "EUR",
            "feeSchedule": escrow.fee_schedule_version,
        },
    }


def test_the_defaults_of_an_escrow_created_without_them(seller):
    now = timezone.now()
    with at(now):
        escrow = make_escrow(seller)
    escrow = refresh(escrow)
    assert escrow.inspection_period == settings.ESCROW_INSPECTION_PERIOD
    assert escrow.expires_at == now + settings.ESCROW_PAYMENT_EXPIRY
    assert escrow.metadata == {}
    assert escrow.buyer_id is None
    assert escrow.buyer_email == ""


# -- refused terms: the message and the field a client is shown -------------------------------


def create(seller, milestones=None, **terms):
    terms = {"title": "x", "currency": "USD", "amount": 100_000, **terms}
    if milestones is None:
        milestones = [MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)]
    return lambda: services.escrow_create(seller=seller, terms=EscrowTerms(**terms), milestones=milestones)


@pytest.mark.parametrize(
    "terms, message, field",
    [
        ({"title": ""}, "title is required", "title"),
        ({"title": "t" * 201}, "title must be at most 200 characters", "title"),
        ({"amount": 1000.0}, "amount must be an exact number of minor units", "amount"),
        ({"amount": True}, "amount must be an exact number of minor units", "amount"),
        ({"settlement_type": "BOTH"}, "settlementType must be MILESTONE or STANDARD", "settlementType"),
        (
            {"release_type": "NEVER"},
            "releaseType must be one of: MILESTONE_LOCKED, DELIVERY_PROOF, TIME_LOCKED, AUTO_RELEASE",
            "releaseType",
        ),
        ({"who_pays": "seller"}, "whoPays must be buyer for milestone escrows", "whoPays"),
        (
            {"settlement_method": "PIGEON"},
            "settlementMethod must be one of: OFF_RAMP_MOCK, STRIPE_TRANSFER",
            "settlementMethod",
        ),
        (
            {"settlement_method": "OFF_RAMP_MOCK", "settlement_destination": "   "},
            "settlementDestination is required with a settlementMethod",
            "settlementDestination",
        ),
        ({"buyer_email": "pat@"}, "buyerEmail must be an email address", "buyerEmail"),
        ({"buyer_email": " Seller@Example.test "}, "The buyer cannot be the seller", "buyerEmail"),
        (
            {"inspection_period": timedelta(0)},
            "inspectionPeriodDays must be a whole number of days from 1 to 30",
            "inspectionPeriodDays",
        ),
    ],
)
def test_a_refused_term_says_what_and_where(seller, terms, message, field):
    assert refused(InvalidRequest, create(seller, **terms)) == (message, field)
    assert Escrow.objects.count() == 0


def test_the_limits_themselves_are_allowed(seller):
    create(seller, title="t" * 200, inspection_period=timedelta(days=1))()
    # 254 characters is the longest address kept.
    create(seller, buyer_email="p" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 56 + ".test")()
    # 255 would pass the address check itself.
    too_long = "p" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 57 + ".test"
    assert refused(InvalidRequest, create(seller, buyer_email=too_long)) == (
        "buyerEmail must be an email address",
        "buyerEmail",
    )
    assert Escrow.objects.count() == 2


def test_a_buyer_account_that_is_the_seller_is_refused(seller):
    call = lambda: services.escrow_create(  # noqa: E731
        seller=seller,
        buyer=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100),
        milestones=[MilestoneInput(amount=50), MilestoneInput(amount=50)],
    )
    assert refused(InvalidRequest, call) == ("The buyer cannot be the seller", "buyer")


@pytest.mark.parametrize(
    "parts, message",
    [
        ((100_000,), "A milestone escrow needs at least 2 milestones"),
        ((100_000, 0), "milestones[1].amount must be greater than zero"),
        ((100_001, -1), "milestones[1].amount must be greater than zero"),
        ((True, 99_999), "milestones[0].amount must be greater than zero"),
        ((50_000.0, 50_000), "milestones[0].amount must be greater than zero"),
        (
            (30_000, 30_000),
            "Milestone amounts must sum to the escrow amount: they sum to 600.00 USD, "
            "the escrow is 1,000.00 USD",
        ),
    ],
)
def test_a_refused_milestone_set_says_which_and_why(seller, parts, message):
    call = create(seller, milestones=[MilestoneInput(amount=p) for p in parts])
    assert refused(InvalidRequest, call) == (message, "milestones")


def test_a_milestone_of_one_cent_is_allowed(seller):
    create(seller, milestones=[MilestoneInput(amount=1), MilestoneInput(amount=99_999)])()
    assert [m.amount for m in milestones(Escrow.objects.get())] == [1, 99_999]


def test_a_standard_escrow_with_milestones_is_refused(seller):
    call = create(seller, settlement_type="STANDARD")
    assert refused(InvalidRequest, call) == ("A standard escrow has no milestones", "milestones")


def test_a_due_date_and_a_percentage_at_and_past_their_limits(seller):
    now = timezone.now()
    with at(now):
        call = create(
            seller, milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000, due_date=now)]
        )
        assert refused(InvalidRequest, call) == ("milestones[1].dueDate must be in the future", "milestones")
        create(
            seller,
            milestones=[
                MilestoneInput(amount=50_000, due_date=now + timedelta(seconds=1), percentage=Decimal(0)),
                MilestoneInput(amount=50_000, percentage=Decimal(100)),
            ],
        )()
    for bad in (Decimal("-0.01"), Decimal("100.01")):
        call = create(
            seller, milestones=[MilestoneInput(amount=50_000, percentage=bad), MilestoneInput(amount=50_000)]
        )
        assert refused(InvalidRequest, call) == (
            "milestones[0].percentage must be between 0 and 100",
            "milestones",
        )


# -- editing ---------------------------------------------------------------------------------------


def edit(escrow, by, parts=(60_000, 60_000, 80_000), **terms):
    terms = {"title": "Bigger build", "currency": "USD", "amount": sum(parts), **terms}
    return services.escrow_edit(
        escrow=escrow,
        by=by,
        terms=EscrowTerms(**terms),
        milestones=[MilestoneInput(amount=p, title=f"New {i}") for i, p in enumerate(parts)],
    )


def test_the_edit_replaces_every_term_and_records_what_it_replaced(seller):
    escrow = make_escrow(seller, metadata={"order": "A-1"}, inspection_period=timedelta(days=3))
    old = milestones(escrow)
    # A delivery never happened, but an event on a replaced milestone keeps its row.
    Event.objects.create(kind="note", escrow=escrow, milestone=old[0], actor=seller)
    version = refresh(escrow).terms_version
    edit(
        escrow,
        seller,
        description="More pages",
        currency="eur",
        release_type="DELIVERY_PROOF",
        auto_release_on_proof=True,
        settlement_method="OFF_RAMP_MOCK",
        settlement_destination="IBAN DE00",
        max_delivery=5,
        delivery_timeline="two weeks",
        total_quantity=4,
        category_id="cat_web",
    )
    escrow = refresh(escrow)
    assert (
        escrow.title,
        escrow.description,
        escrow.currency,
        escrow.amount,
        escrow.fee,
        escrow.release_type,
        escrow.auto_release_on_proof,
        escrow.settlement_method,
        escrow.settlement_destination,
        escrow.max_delivery,
        escrow.delivery_timeline,
        escrow.total_quantity,
        escrow.category_id,
        escrow.terms_version,
    ) == (
        "Bigger build",
        "More pages",
        "EUR",
        200_000,
        3_000,
        "DELIVERY_PROOF",
        True,
        "OFF_RAMP_MOCK",
        "IBAN DE00",
        5,
        "two weeks",
        4,
        "cat_web",
        version + 1,
    )
    # Terms not given keep what the escrow had.
    assert escrow.metadata == {"order": "A-1"}
    assert escrow.inspection_period == timedelta(days=3)
    assert [(m.index, m.title, m.amount) for m in milestones(escrow)] == [
        (0, "New 0", 60_000),
        (1, "New 1", 60_000),
        (2, "New 2", 80_000),
    ]
    assert not Milestone.objects.filter(pk__in=[m.pk for m in old]).exists()
    assert Event.objects.get(kind="note").milestone_id is None
    assert record(last_event(escrow, "escrow.edited")) == {
        "kind": "escrow.edited",
        "escrow": escrow.pk,
        "milestone": None,
        "actor": seller.pk,
        "actor_kind": "user",
        "from_status": "AWAITING_PAYMENT",
        "to_status": "AWAITING_PAYMENT",
        "details": {
            "before": {"amount": 100_000, "fee": 1_500, "milestones": [m.public_id for m in old]},
            "amount": 200_000,
            "fee": 3_000,
        },
    }


def test_the_edit_sets_the_metadata_and_inspection_period_it_is_given(seller):
    escrow = make_escrow(seller, metadata={"order": "A-1"})
    edit(escrow, seller, metadata={"order": "B-2"}, inspection_period=timedelta(days=2))
    escrow = refresh(escrow)
    assert escrow.metadata == {"order": "B-2"}
    assert escrow.inspection_period == timedelta(days=2)


def test_a_new_buyer_email_is_kept_without_case_and_recorded_for_the_invitation(seller):
    escrow = make_escrow(seller, buyer_email="pat@example.test")
    old = [m.public_id for m in milestones(escrow)]
    edit(escrow, seller, buyer_email="  Sam@Example.TEST ")
    escrow = refresh(escrow)
    assert escrow.buyer_email == "sam@example.test"
    assert last_event(escrow, "escrow.edited").details == {
        "before": {"amount": 100_000, "fee": 1_500, "milestones": old},
        "amount": 200_000,
        "fee": 3_000,
        "buyerEmailBefore": "pat@example.test",
        "buyerEmail": "sam@example.test",
    }


def test_the_same_buyer_email_in_another_case_is_no_change(seller):
    escrow = make_escrow(seller, buyer_email="pat@example.test")
    edit(escrow, seller, buyer_email="PAT@example.test")
    details = last_event(escrow, "escrow.edited").details
    assert "buyerEmail" not in details and "buyerEmailBefore" not in details


def test_an_edit_may_not_name_the_seller_as_the_buyer(seller):
    escrow = make_escrow(seller)
    call = lambda: edit(escrow, seller, buyer_email="SELLER@example.test")  # noqa: E731
    assert refused(InvalidRequest, call) == ("The buyer cannot be the seller", "buyerEmail")


def test_the_buyer_account_once_set_is_not_renamed_by_email(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    call = lambda: edit(escrow, seller, buyer_email="someone@example.test")  # noqa: E731
    assert refused(InvalidRequest, call) == ("The buyer of this escrow is already set", "buyerEmail")
    assert refresh(escrow).title == "Website build"
    # Its own address (in any case), or none at all, is no change of buyer.
    edit(escrow, seller, buyer_email="Buyer@Example.test")
    edit(escrow, seller, title="Again")
    assert refresh(escrow).buyer_id == buyer.pk


def test_a_buyer_account_whose_address_has_capitals_is_still_its_own_address(seller):
    pat = UserFactory(email="Pat@example.test")
    escrow = make_escrow(seller, buyer=pat)
    edit(escrow, seller, buyer_email="pat@example.test")
    assert refresh(escrow).buyer_id == pat.pk


def test_an_escrow_without_a_buyer_account_may_be_given_a_buyer_email(seller):
    escrow = make_escrow(seller)
    edit(escrow, seller, buyer_email="pat@example.test")
    assert refresh(escrow).buyer_email == "pat@example.test"


def test_who_may_edit_is_told_exactly(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    assert refused(Forbidden, lambda: edit(escrow, buyer)) == (
        "Only the seller who created this escrow can edit it",
        None,
    )


def test_an_edit_by_staff_who_is_the_seller_is_recorded_as_an_admins(db):
    staff_seller = UserFactory(email="staff@example.test", is_staff=True)
    escrow = make_escrow(staff_seller)
    edit(escrow, staff_seller)
    assert last_event(escrow, "escrow.edited").actor_kind == "admin"


# -- adding one milestone ----------------------------------------------------------------------


def open_escrow(seller, amount=100_000, **terms):
    return services.escrow_create(
        seller=seller, terms=EscrowTerms(title="x", currency="USD", amount=amount, **terms), milestones=None
    )


def add(escrow, by, index=0, amount=30_000, **fields):
    return services.milestone_add(
        escrow=escrow, by=by, index=index, milestone=MilestoneInput(amount=amount, **fields)
    )


def test_an_added_milestone_is_stored_and_recorded(seller, buyer):
    escrow = open_escrow(seller)
    version = refresh(escrow).terms_version
    due = timezone.now() + timedelta(days=5)
    created = add(
        escrow,
        seller,
        index=3,
        title="T" * 210,
        description="mockups",
        percentage=Decimal("30"),
        payee=buyer,
        due_date=due,
    )
    created = Milestone.objects.get(pk=created.pk)
    assert (
        created.escrow_id,
        created.index,
        created.title,
        created.description,
        created.amount,
        created.percentage,
        created.payee_id,
        created.due_date,
        created.status,
    ) == (escrow.pk, 3, "T" * 200, "mockups", 30_000, Decimal("30"), buyer.pk, due, MilestoneStatus.PENDING)
    assert refresh(escrow).terms_version == version + 1
    assert record(last_event(escrow, "milestone.created")) == {
        "kind": "milestone.created",
        "escrow": escrow.pk,
        "milestone": created.pk,
        "actor": seller.pk,
        "actor_kind": "user",
        "from_status": "",
        "to_status": "PENDING",
        "details": {"milestone": created.public_id, "index": 3, "amount": 30_000},
    }


def test_a_milestone_up_to_the_escrow_amount_is_added_and_past_it_refused(seller):
    escrow = open_escrow(seller)
    add(escrow, seller, index=0, amount=60_000)
    assert refused(InvalidRequest, lambda: add(escrow, seller, index=1, amount=40_001)) == (
        "Total milestone amounts exceed escrow order amount",
        None,
    )
    add(escrow, seller, index=1, amount=40_000)
    assert [m.amount for m in milestones(escrow)] == [60_000, 40_000]


@pytest.mark.parametrize("index", [-1, 10_001, True, "1"])
def test_a_milestone_index_out_of_range_is_refused(seller, index):
    escrow = open_escrow(seller)
    assert refused(InvalidRequest, lambda: add(escrow, seller, index=index)) == (
        "milestoneIndex must be an integer from 0",
        "milestoneIndex",
    )


def test_the_index_limits_themselves_are_allowed(seller):
    escrow = open_escrow(seller)
    add(escrow, seller, index=0, amount=10)
    add(escrow, seller, index=10_000, amount=10)
    assert refused(InvalidRequest, lambda: add(escrow, seller, index=10_000, amount=10)) == (
        "Milestone with index 10000 already exists",
        None,
    )


def test_a_percentage_outside_zero_to_a_hundred_is_refused(seller):
    escrow = open_escrow(seller)
    add(escrow, seller, index=0, amount=10, percentage=Decimal(0))
    add(escrow, seller, index=1, amount=10, percentage=Decimal(100))
    for index, bad in enumerate((Decimal("-0.01"), Decimal("100.01")), start=2):
        assert refused(
            InvalidRequest, lambda i=index, p=bad: add(escrow, seller, index=i, amount=10, percentage=p)
        ) == (
            "percentage must be between 0 and 100",
            "percentage",
        )


def test_who_and_when_a_milestone_may_be_added(seller, buyer):
    escrow = open_escrow(seller)
    reserved = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="x", currency="USD", amount=100),
        milestones=None,
    )
    assert refused(Forbidden, lambda: add(reserved, buyer)) == ("Only the seller can add milestones", None)
    standard = open_escrow(seller, settlement_type="STANDARD")
    assert refused(InvalidRequest, lambda: add(standard, seller)) == (
        "Cannot create milestone for order with release type: MILESTONE_LOCKED",
        None,
    )
    proof = open_escrow(seller, release_type="DELIVERY_PROOF")
    assert refused(InvalidRequest, lambda: add(proof, seller)) == (
        "Cannot create milestone for order with release type: DELIVERY_PROOF",
        None,
    )
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.CANCELLED)
    assert refused(InvalidState, lambda: add(escrow, seller)) == (
        "Milestones can only be added while the escrow is awaiting payment",
        None,
    )


# -- emailing the invitation again ---------------------------------------------------------------


def test_the_invitation_sent_again_is_recorded_in_full(seller):
    escrow = make_escrow(seller, buyer_email="pat@example.test")
    Event.objects.filter(escrow=escrow).update(created_at=timezone.now() - timedelta(minutes=11))
    event = services.escrow_invitation_resend(escrow=escrow, by=seller)
    assert record(Event.objects.get(pk=event.pk)) == {
        "kind": "escrow.invitation_resent",
        "escrow": escrow.pk,
        "milestone": None,
        "actor": seller.pk,
        "actor_kind": "user",
        "from_status": "AWAITING_PAYMENT",
        "to_status": "AWAITING_PAYMENT",
        "details": {"buyerEmail": "pat@example.test"},
    }


def test_the_invitation_refusals_are_told_exactly(seller, buyer):
    escrow = make_escrow(seller, buyer_email="buyer@example.test")
    with pytest.raises(InvalidState) as exc:
        services.escrow_invitation_resend(escrow=escrow, by=seller)
    assert (exc.value.code, exc.value.message.startswith("The invitation was sent less than")) == (
        "invitation_refused",
        True,
    )
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    services.escrow_fund(escrow=escrow, by=buyer)
    assert refused(Forbidden, lambda: services.escrow_invitation_resend(escrow=escrow, by=buyer)) == (
        "Only the seller can send the invitation again",
        None,
    )
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_only_this_escrows_invitations_count_towards_sending_it_again(seller):
    escrow = make_escrow(seller, buyer_email="pat@example.test")
    Event.objects.filter(escrow=escrow).update(created_at=timezone.now() - timedelta(minutes=11))
    # Just now: another escrow's invitation, and an edit of this one (no invitation).
    make_escrow(seller, buyer_email="sam@example.test")
    edit(escrow, seller, buyer_email="pat@example.test")
    event = services.escrow_invitation_resend(escrow=escrow, by=seller)
    assert event.kind == "escrow.invitation_resent"
