"""Notifications in a real browser: a buyer invited by email signs up, finds the escrow on the
Buying tab "awaiting your payment", pays, and after the seller delivers the first stage follows
the bell ("1") to that stage. The notifications page on a desktop and a phone, and every kind of
email the notifications write, rendered in Chromium at both widths, go to test-artifacts/; axe
finds nothing on the new pages."""

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from escrows import services
from escrows.models import Dispute, Escrow, EscrowStatus, Milestone, Settlement
from notifications import emails
from notifications.models import Notification
from tests.e2e.browser import DESKTOP, PHONE, log_in
from tests.e2e.test_milestone_flow import sign_up
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones, refresh
from tests.notifications.helpers import dispatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVITED = "nina.newbuyer@example.test"


def assert_accessible(page: Page, what: str) -> None:
    """axe-core (WCAG 2.x A and AA rules) finds no violation on the page as shown."""
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def bell(page: Page):
    return page.locator("header a.bell")


def test_an_invited_buyer_signs_up_pays_and_follows_the_bell_to_the_delivered_stage(
    browser: Browser, site: str, shots
) -> None:
    seller = UserFactory(email="sara.seller@example.test", first_name="Sara", last_name="Seller")
    escrow = make_escrow(seller, parts=(30_000, 70_000), buyer_email=INVITED, title="Garden redesign")
    dispatch()
    [invitation] = Notification.objects.filter(email=INVITED)
    assert invitation.recipient is None and invitation.url == f"/pay/{escrow.payment_token}"

    # -- the invited buyer signs up: the escrow is waiting on the Buying tab ---------------------
    ctx = browser.new_context(viewport=DESKTOP)
    buyer = ctx.new_page()
    buyer.goto(site + "/accounts/signup/")
    sign_up(buyer, INVITED, "Nina", "Newbuyer")
    expect(buyer).to_have_url(re.compile(r"/dashboard/$"))
    buyer.get_by_role("link", name="Buying").click()
    row = buyer.locator("[data-invited]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Garden redesign")
    expect(row).to_contain_text("Awaiting your payment")
    expect(row).to_contain_text("1,000.00 USD")
    shots(buyer, "notifications-01-buying-awaiting-your-payment")
    assert_accessible(buyer, "the Buying tab with an invitation")
    expect(bell(buyer)).to_have_attribute("aria-label", "Notifications, 0 unread")

    # -- pays from the row's link -----------------------------------------------------------------
    row.get_by_role("link").click()
    expect(buyer).to_have_url(re.compile(rf"/pay/{escrow.payment_token}$"))
    buyer.get_by_label("Card (test gateway)").check()
    buyer.get_by_label("Test card token").fill("tok_visa")
    buyer.get_by_role("button", name="Pay 1,015.00 USD").click()
    expect(buyer.get_by_text("You are buying")).to_be_visible()
    assert refresh(escrow).status == EscrowStatus.OPENED

    # -- the seller delivers stage 1; the buyer's bell says 1 -----------------------------------
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="Planting plan attached")
    dispatch()
    [delivered] = Notification.objects.filter(recipient__email=INVITED, read_at__isnull=True)
    assert delivered.subject.startswith("Stage 1 delivered on “Garden redesign”")
    buyer.goto(site + "/dashboard/")
    expect(bell(buyer)).to_have_attribute("aria-label", "Notifications, 1 unread")
    expect(bell(buyer).locator(".bell-count")).to_have_text("1")
    shots(buyer, "notifications-02-bell-one-unread")
    buyer.set_viewport_size(PHONE)
    expect(bell(buyer)).to_be_visible()
    no_sideways_scroll(buyer)
    shots(buyer, "notifications-02-bell-one-unread-phone")
    buyer.set_viewport_size(DESKTOP)

    # -- the notifications page ----------------------------------------------------------------
    bell(buyer).click()
    expect(buyer.get_by_role("heading", name="Notifications")).to_be_visible()
    notice = buyer.locator(".notice.is-unread")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text(delivered.subject)
    expect(notice).to_contain_text("Needs your action")
    shots(buyer, "notifications-03-page")
    assert_accessible(buyer, "the notifications page")
    buyer.set_viewport_size(PHONE)
    no_sideways_scroll(buyer)
    shots(buyer, "notifications-03-page-phone")
    assert_accessible(buyer, "the notifications page on a phone")
    buyer.set_viewport_size(DESKTOP)

    # -- following it lands on the stage, read --------------------------------------------------
    notice.get_by_role("link").click()
    expect(buyer).to_have_url(re.compile(rf"/escrows/{escrow.public_id}/#stage-1$"))
    stage = buyer.locator("#stage-1")
    expect(stage).to_be_in_viewport()
    expect(stage).to_contain_text("Planting plan attached")
    expect(buyer.get_by_role("button", name="Confirm & release 300.00 USD")).to_be_visible()
    expect(bell(buyer)).to_have_attribute("aria-label", "Notifications, 0 unread")
    assert Notification.objects.get(pk=delivered.pk).read_at is not None
    shots(buyer, "notifications-04-landed-on-the-stage")
    ctx.close()


def test_the_seller_emails_the_invitation_again_from_the_escrow_page(
    browser: Browser, site: str, shots
) -> None:
    seller = UserFactory(email="sam.seller@example.test", first_name="Sam", last_name="Seller")
    escrow = make_escrow(seller, buyer_email=INVITED, title="Bathroom tiles")
    # The first invitation went out a while ago.
    escrow.events.update(created_at=timezone.now() - timedelta(hours=1))
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    log_in(page, site, seller.email)
    page.goto(f"{site}/escrows/{escrow.public_id}/")
    button = page.get_by_role("button", name="Email the invitation again")
    expect(button).to_be_visible()
    assert_accessible(page, "the escrow page with the invitation")
    button.click()
    expect(page.locator(".flash")).to_contain_text(f"The payment link is on its way to {INVITED} again.")
    expect(page.get_by_role("button", name="Email the invitation again")).to_have_count(0)
    expect(page.locator("[data-invitation]")).to_contain_text("try again later")
    expect(page.locator(".timeline")).to_contain_text("Invitation emailed again")
    shots(page, "notifications-05-invitation-sent-again")
    dispatch()
    assert Notification.objects.filter(email=INVITED, event__kind="escrow.invitation_resent").count() == 1
    ctx.close()


def _every_kind_of_notice(settings) -> None:
    """Events of every kind the notifications tell, through the services; every reminder due."""
    settings.ESCROW_EXPIRY_REMINDER_BEFORE = settings.ESCROW_PAYMENT_EXPIRY + timedelta(days=1)
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=365)
    settings.ESCROW_DISPUTE_REMINDER_BEFORE = timedelta(days=365)
    seller = UserFactory(email="sam.seller@example.test", first_name="Sam", last_name="Seller")
    buyer = UserFactory(email="bea.buyer@example.test", first_name="Bea", last_name="Buyer")
    admin = UserFactory(email="admin@example.test", is_staff=True)
    payee = UserFactory(email="pat.payee@example.test", first_name="Pat", last_name="Payee")

    invited = make_escrow(seller, buyer_email="new.person@example.test", title="Kitchen cabinets")
    invited.events.update(created_at=timezone.now() - timedelta(hours=1))
    services.escrow_invitation_resend(escrow=invited, by=seller)
    services.escrow_expiry_remind(escrow=invited)
    Escrow.objects.filter(pk=invited.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.escrow_expire(escrow=invited)

    job = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(
            title="Website build",
            currency="USD",
            amount=100_000,
            buyer_email=buyer.email,
            settlement_method="OFF_RAMP_MOCK",
            settlement_destination="bank-1",
        ),
        milestones=[
            services.MilestoneInput(amount=30_000, title="Design"),
            services.MilestoneInput(amount=30_000, title="Build", payee=payee),
            services.MilestoneInput(amount=40_000, title="Launch"),
        ],
    )
    fund(job, buyer)
    design, build, launch = milestones(job)
    services.milestone_complete(milestone=design, by=seller, proof="Mock-ups attached")
    services.milestone_review_extend(milestone=design, by=buyer)
    services.milestone_review_remind(milestone=refresh(design))
    services.milestone_release(milestone=design, by=buyer)
    services.settlement_process(settlement_id=Settlement.objects.get(escrow=job).pk)
    services.milestone_complete(milestone=build, by=seller)
    Milestone.objects.filter(pk=build.pk).update(review_deadline=timezone.now() - timedelta(minutes=1))
    services.milestone_auto_release(milestone=refresh(build))
    services.milestone_complete(milestone=launch, by=seller)
    dispute = services.dispute_open(escrow=job, milestone=refresh(launch), by=buyer, reason="Not live yet")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It is live")
    services.dispute_resolve(dispute=refresh(dispute), by=admin, outcome="release")

    failing = make_escrow(
        seller,
        parts=(30_000, 70_000),
        settlement_method="OFF_RAMP_MOCK",
        settlement_destination="reject-bank",
    )
    fund(failing, buyer)
    first = milestones(failing)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    services.settlement_process(settlement_id=Settlement.objects.get(escrow=failing).pk)

    refunds = make_escrow(seller, buyer_email=buyer.email, title="Logo design")
    fund(refunds, buyer)
    declined = services.refund_request_create(escrow=refunds, by=buyer, reason="Changed my mind")
    services.refund_request_decline(refund_request=declined, by=seller, reason="Work has started")
    proposal = services.cancellation_propose(
        escrow=refunds, by=seller, buyer_amount=70_000, seller_amount=30_000
    )
    services.cancellation_decline(proposal=proposal, by=buyer, reason="Too little back")
    accepted = services.refund_request_create(escrow=refunds, by=buyer, reason="Please")
    services.refund_request_accept(refund_request=accepted, by=seller)

    cancelled = make_escrow(seller, buyer_email=buyer.email, title="Flyers")
    fund(cancelled, buyer)
    agreed = services.cancellation_propose(escrow=cancelled, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.cancellation_accept(proposal=agreed, by=seller)

    shared = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(
            title="Photo shoot", currency="USD", amount=100_000, buyer_email=buyer.email
        ),
        milestones=[
            services.MilestoneInput(amount=40_000, title="Shoot", payee=payee),
            services.MilestoneInput(amount=60_000, title="Edit"),
        ],
    )
    fund(shared, buyer)
    shoot, edit = milestones(shared)
    services.milestone_refund(milestone=edit, by=seller, reason="Editing done in house")
    services.milestone_complete(milestone=shoot, by=seller)
    split = services.dispute_open(escrow=shared, milestone=refresh(shoot), by=buyer, reason="Half the photos")
    services.dispute_resolve(
        dispute=split, by=admin, outcome="split", seller_amount=20_000, buyer_amount=20_000, note="Half"
    )

    withdrawn = make_escrow(seller, buyer_email=buyer.email, title="Poster")
    fund(withdrawn, buyer)
    stage = milestones(withdrawn)[0]
    services.milestone_complete(milestone=stage, by=seller)
    opened = services.dispute_open(escrow=withdrawn, milestone=refresh(stage), by=buyer, reason="Blurry")
    services.dispute_withdraw(dispute=opened, by=buyer)
    unanswered = services.dispute_open(escrow=withdrawn, milestone=refresh(stage), by=seller, reason="Unpaid")
    # Only an unanswered dispute is reminded of, when its deadline is near (a contested one waits
    # for staff, with no deadline that applies anything).
    Dispute.objects.filter(pk=unanswered.pk).update(deadline=timezone.now() + timedelta(hours=1))
    assert services.dispute_deadline_remind(dispute=refresh(unanswered)) is not None
    Dispute.objects.filter(pk=unanswered.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    services.dispute_apply_default(dispute=refresh(unanswered))

    late = make_escrow(seller, buyer_email=buyer.email, title="Shop fit-out")
    fund(late, buyer)
    stage = milestones(late)[0]
    Milestone.objects.filter(pk=stage.pk).update(due_date=timezone.now() + timedelta(hours=1))
    services.milestone_due_remind(milestone=refresh(stage))
    Milestone.objects.filter(pk=stage.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    services.milestone_overdue_notify(milestone=refresh(stage))
    dispatch()


def test_every_kind_of_email_rendered_on_a_desktop_and_a_phone(
    browser: Browser, site: str, shots, settings
) -> None:
    # `site`: the live server is not visited, but its teardown clears the ledger before the flush.
    _every_kind_of_notice(settings)
    samples: dict[str, Notification] = {}
    for notification in Notification.objects.select_related("event", "escrow", "recipient").order_by("pk"):
        samples.setdefault(notification.event.kind, notification)
    expected = {
        "escrow.created",
        "escrow.invitation_resent",
        "escrow.expiry_reminder_sent",
        "escrow.cancelled",
        "escrow.funded",
        "escrow.completed",
        "milestone.completed",
        "milestone.review_extended",
        "milestone.review_reminder_sent",
        "milestone.due_reminder_sent",
        "milestone.overdue",
        "milestone.released",
        "milestone.refunded",
        "milestone.split",
        "dispute.opened",
        "dispute.answered",
        "dispute.deadline_reminder_sent",
        "dispute.resolved",
        "dispute.withdrawn",
        "refund.requested",
        "refund.declined",
        "refund.accepted",
        "cancellation.proposed",
        "cancellation.declined",
        "cancellation.accepted",
        "settlement.paid",
        "settlement.failed",
    }
    assert expected <= set(samples), sorted(expected - set(samples))
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    for kind, notification in sorted(samples.items()):
        message = emails.build(notification, to=notification.email or "reader@example.test")
        [(html, mime)] = message.alternatives
        assert mime == "text/html"
        page.set_viewport_size(DESKTOP)
        page.set_content(html)
        expect(page.get_by_role("heading", name=notification.subject)).to_be_visible()
        name = "email-" + kind.replace(".", "-").replace("_", "-")
        shots(page, name)
        page.set_viewport_size(PHONE)
        no_sideways_scroll(page)
        shots(page, name + "-phone")
    ctx.close()
