"""Every page a seller, a buyer and staff can reach, in one list, over the demo data (escrows in
every state, a delivered stage, disputes, a refund). The words test (tests/views) renders each
one with Django's test client, forms after bad input too, and reads what a person sees; the
browser sweep (tests/e2e) opens the same list at desktop and phone widths and runs axe-core.

A page added to the site belongs in `pages()`."""

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import APIKey, User
from escrows import services
from escrows.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from escrows.models import Dispute, Escrow, EscrowStatus, Milestone, MilestoneStatus
from escrows.services import EscrowTerms, MilestoneInput
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus

PASSWORD = DEMO_PASSWORD


@dataclass(frozen=True)
class Page:
    name: str
    who: str  # "seller", "buyer", "staff" or "anonymous"
    path: str
    # A form sent with bad input: the page shown after it (following redirects) is the one read.
    post: dict[str, str] | None = None
    post_to: str = ""  # where the form goes, when not to `path`
    status: tuple[int, ...] = (200,)
    # "page": one of the site's pages; "fragment": a piece of one (htmx), read but not opened in
    # the browser; "record": the printable evidence record, for an arbiter, where every id is a
    # reference to quote (only its words are checked); "admin": Django's admin, staff's own tool,
    # which shows internal ids on purpose (only its words are checked) and keeps Django's look.
    kind: str = "page"

    @property
    def ids_checked(self) -> bool:
        return self.kind not in ("admin", "record")

    @property
    def in_browser(self) -> bool:
        return self.kind in ("page", "record")


@dataclass
class World:
    users: dict[str, User]
    escrows: dict[str, Escrow] = field(default_factory=dict)
    deliverable: Milestone | None = None

    def escrow(self, status: str) -> Escrow:
        return self.escrows[status]


def build_world() -> World:
    """The demo data (seed_demo) plus a webhook endpoint: what a visitor of `dev.py serve` sees."""
    call_command("seed_demo", stdout=io.StringIO())
    users = {role: User.objects.get(email=DEMO_USERS[role]) for role in ("seller", "buyer")}
    users["staff"] = User.objects.get(email=DEMO_USERS["admin"])
    world = World(users=users)
    for escrow in Escrow.objects.filter(seller=users["seller"]).order_by("id"):
        key = f"{escrow.status}{'' if escrow.is_milestone else ' standard'}"
        world.escrows.setdefault(key, escrow)
    endpoint = webhook_services.webhook_endpoint_create(
        customer=users["seller"], url="http://127.0.0.1:9/escrow-hooks", description="Order service"
    )
    # A paid escrow whose first stage the seller can deliver (the demo's deals are further on).
    fresh = services.escrow_create(
        seller=users["seller"],
        terms=EscrowTerms(title="Loyalty card design", currency="USD", amount=90_000),
        milestones=[MilestoneInput(amount=40_000, title="Card concepts"), MilestoneInput(amount=50_000)],
    )
    services.escrow_fund(escrow=fresh, by=users["buyer"])
    world.deliverable = fresh.milestones.get(index=0)
    webhook_services.events_dispatch()  # the notifications and the webhook deliveries
    # Deliveries that failed for good, with a long reason: the log offers "Resend" on each.
    endpoint.deliveries.update(
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_status_code=503,
        last_attempt_at=timezone.now(),
        last_error="refused: hooks.example.test resolves to 127.0.0.1, which is not a public internet "
        "address; the endpoint answered 503 Service Unavailable after 5 seconds",
    )
    return world


def _optional(name: str) -> str | None:
    """A page being built alongside this list: swept once it is routed."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _detail(escrow: Escrow) -> str:
    return reverse("escrow_detail", args=[escrow.public_id])


def pages(world: World) -> list[Page]:
    unpaid = world.escrow(EscrowStatus.AWAITING_PAYMENT)
    opened = Escrow.objects.get(status=EscrowStatus.OPENED, milestones__status=MilestoneStatus.COMPLETED)
    stage_dispute = Dispute.objects.filter(milestone__isnull=False).order_by("id").first()
    whole_dispute = Dispute.objects.filter(milestone__isnull=True).order_by("id").first()
    assert stage_dispute is not None and whole_dispute is not None
    delivered = Milestone.objects.get(escrow=opened, status=MilestoneStatus.COMPLETED)
    assert world.deliverable is not None
    next_stage = world.deliverable
    endpoint = world.users["seller"].webhook_endpoints.first()
    bad_escrow = {
        "title": "Logo refresh",
        "currency": "USD",
        "amount": "1000000000.00",
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "0",
        "form-0-title": "Sketches",
        "form-0-amount": "12.345",
        "form-1-title": "Final files",
        "form-1-amount": "abc",
    }
    result = [
        Page("home", "anonymous", "/"),
        Page("log in", "anonymous", reverse("login")),
        Page(
            "log in with a wrong password",
            "anonymous",
            reverse("login"),
            post={"login": DEMO_USERS["seller"], "password": "not-the-password"},
        ),
        Page("sign up", "anonymous", reverse("signup")),
        Page("sign up with bad input", "anonymous", reverse("signup"), post={"email": "not-an-email"}),
        Page("pay page, not logged in", "anonymous", reverse("pay", args=[unpaid.payment_token])),
        Page("page not found", "anonymous", "/no-such-page/", status=(404,)),
        Page(
            "page not found, logged in", "seller", "/escrows/intent_000000000000000000000000/", status=(404,)
        ),
        Page("dashboard (seller)", "seller", reverse("dashboard")),
        Page("dashboard (buyer)", "buyer", reverse("dashboard")),
        Page("dashboard, disputed filter", "seller", reverse("dashboard") + "?status=DISPUTED"),
        Page("new escrow", "seller", reverse("escrow_new")),
        Page("new escrow with errors", "seller", reverse("escrow_new"), post=bad_escrow),
        Page(
            "new escrow over the maximum",
            "seller",
            reverse("escrow_new"),
            post={**bad_escrow, "form-0-amount": "500000000.00", "form-1-amount": "500000000.00"},
        ),
        Page(
            "fee quote with a bad stage",
            "seller",
            reverse("fee_quote") + "?" + _query(bad_escrow),
            kind="fragment",
        ),
        Page(
            "fee quote over the maximum",
            "seller",
            reverse("fee_quote") + "?" + _query({**bad_escrow, "form-1-amount": "1.00"}),
            kind="fragment",
        ),
        Page("edit an unpaid escrow", "seller", reverse("escrow_edit", args=[unpaid.public_id])),
        Page("pay page (buyer)", "buyer", reverse("pay", args=[unpaid.payment_token])),
        Page("balance (buyer)", "buyer", reverse("balance")),
        Page("balance (seller)", "seller", reverse("balance")),
        Page(
            "balance after a bad top-up",
            "buyer",
            reverse("balance"),
            post={"currency": "USD", "amount": "12.345"},
            post_to=reverse("balance_topup"),
        ),
        Page(
            "balance after a bad withdrawal",
            "seller",
            reverse("balance"),
            post={"currency": "USD", "amount": "ten", "destination": "bank_account_123"},
            post_to=reverse("balance_withdraw"),
        ),
        Page("webhooks", "seller", reverse("webhooks")),
        Page(
            "webhooks with a bad address",
            "seller",
            reverse("webhooks"),
            post={"url": "ftp://files.example.test/hooks"},
            status=(400,),
        ),
        Page("webhook endpoint", "seller", reverse("webhook_detail", args=[endpoint.public_id])),
        Page("API keys", "seller", reverse("api_keys")),
        Page("notifications (seller)", "seller", reverse("notifications")),
        Page("notifications (buyer)", "buyer", reverse("notifications")),
        Page("email settings", "seller", reverse("notification_settings")),
        *([Page("account", "seller", account)] if (account := _optional("account")) else []),
        Page("deliver a stage", "seller", _deliver_path(next_stage)),
        Page("deliver a stage with nothing said", "seller", _deliver_path(next_stage), post={"proof": ""}),
        Page("refund request", "buyer", reverse("refund_request_new", args=[opened.public_id])),
        Page(
            "refund request without a reason",
            "buyer",
            reverse("refund_request_new", args=[opened.public_id]),
            post={"reason": ""},
        ),
        Page("cancellation proposal", "buyer", reverse("cancellation_new", args=[opened.public_id])),
        Page(
            "cancellation proposal with bad amounts",
            "buyer",
            reverse("cancellation_new", args=[opened.public_id]),
            post={"buyer_amount": "abc", "seller_amount": "1.234"},
        ),
        Page(
            "open a dispute",
            "buyer",
            reverse("escrow_dispute", args=[opened.public_id]) + f"?milestone={delivered.public_id}",
        ),
        Page(
            "open a dispute with a one-sided split",
            "buyer",
            reverse("escrow_dispute", args=[opened.public_id]),
            post={
                "milestone": delivered.public_id,
                "reason": "The test build crashes at checkout.",
                "default_outcome": "split",
                "default_seller_amount": "12.345",
            },
            status=(200, 400),
        ),
        Page("stage dispute (buyer)", "buyer", _dispute_path(stage_dispute)),
        Page("stage dispute (seller)", "seller", _dispute_path(stage_dispute)),
        Page("whole-escrow dispute (buyer)", "buyer", _dispute_path(whole_dispute)),
        Page("disputes (staff)", "staff", reverse("staff_disputes")),
        Page("resolve a dispute (staff)", "staff", _resolve_path(stage_dispute)),
        Page(
            "resolve a dispute with a bad split (staff)",
            "staff",
            _resolve_path(stage_dispute),
            post={"outcome": "split", "seller_amount": "abc", "buyer_amount": "1"},
            status=(200, 400),
        ),
        Page(
            "evidence record",
            "buyer",
            reverse("evidence_export", args=[stage_dispute.escrow.public_id]),
            kind="record",
        ),
        Page("admin: escrows", "staff", reverse("admin:escrows_escrow_changelist"), kind="admin"),
        Page(
            "admin: an escrow",
            "staff",
            reverse("admin:escrows_escrow_change", args=[opened.pk]),
            kind="admin",
        ),
        Page("admin: payments", "staff", reverse("admin:escrows_payment_changelist"), kind="admin"),
        Page("admin: disputes", "staff", reverse("admin:escrows_dispute_changelist"), kind="admin"),
        Page(
            "admin: a dispute",
            "staff",
            reverse("admin:escrows_dispute_change", args=[stage_dispute.pk]),
            kind="admin",
        ),
        Page(
            "admin: ledger accounts",
            "staff",
            reverse("admin:escrows_ledgeraccount_changelist"),
            kind="admin",
        ),
    ]
    result += _confirmation_pages(world, unpaid, delivered)
    for status, escrow in sorted(world.escrows.items()):
        for who in ("seller", "buyer") if escrow.buyer_id else ("seller",):
            result.append(Page(f"escrow {status.lower()} ({who})", who, _detail(escrow)))
    return result


def _query(data: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


def _confirmation_pages(world: World, unpaid: Escrow, delivered: Milestone) -> list[Page]:
    """What each irreversible action asks first, on its own page (escrows/confirmations.py)."""
    assert world.deliverable is not None
    fresh = world.deliverable.escrow  # paid, nothing delivered: its first stage is releasable
    live = Dispute.objects.filter(status__in=["OPEN", "ANSWERED"]).order_by("id").first()
    key = APIKey.objects.filter(user=world.users["seller"], revoked=False).first()
    return [
        Page(
            "confirm a release before delivery",
            "buyer",
            reverse("milestone_release", args=[fresh.public_id, world.deliverable.public_id]),
        ),
        Page(
            "confirm cancelling an unpaid escrow", "seller", reverse("escrow_cancel", args=[unpaid.public_id])
        ),
        Page("confirm refunding the rest", "seller", reverse("escrow_refund", args=[fresh.public_id])),
        Page(
            "confirm opening a dispute",
            "buyer",
            reverse("escrow_dispute", args=[delivered.escrow.public_id]),
            post={
                "milestone": delivered.public_id,
                "reason": "The test build crashes at checkout.",
                "default_outcome": "refund",
            },
        ),
        *(
            [
                Page(
                    "confirm withdrawing a dispute",
                    live.opener_role,
                    reverse("dispute_withdraw", args=[live.escrow.public_id, live.public_id]),
                )
            ]
            if live is not None
            else []
        ),
        *(
            [Page("confirm revoking an API key", "seller", reverse("api_key_revoke", args=[key.prefix]))]
            if key
            else []
        ),
    ]


def _deliver_path(milestone: Milestone) -> str:
    return reverse("milestone_deliver", args=[milestone.escrow.public_id, milestone.public_id])


def _dispute_path(dispute: Dispute) -> str:
    return reverse("dispute_detail", args=[dispute.escrow.public_id, dispute.public_id])


def _resolve_path(dispute: Dispute) -> str:
    return reverse("dispute_resolve", args=[dispute.escrow.public_id, dispute.public_id])


# -- what a person reads ------------------------------------------------------------------------

# Words of the wire format and of the code, never of the pages.
FORBIDDEN_WORDS = [
    (re.compile(r"minor units", re.I), '"minor units"'),
    (re.compile(r"decimal string", re.I), '"decimal string"'),
    (re.compile(r"\b[A-Za-z_]+\[\d+\]"), "a field path like milestones[1]"),
    (re.compile(r"\b[a-z_]+\.\d+\b"), "a field path like milestones.0"),
    (
        re.compile(
            r"\b(sellerAmount|buyerAmount|buyerEmail|milestoneId|milestoneIndex|whoPays|settlementType|"
            r"releaseType|settlementMethod|settlementDestination|expectedAmount|dueDate)\b"
        ),
        "an API field name",
    ),
    (re.compile(r"\burl (must|is)\b"), 'an API message ("url must …")'),
    (re.compile(r"\bamount (must|is too|has more)\b"), 'an API message ("amount must …")'),
    (re.compile(r"Traceback|Exception Value|Server Error \(500\)"), "a server error"),
]

# The public ids of the models. An id is shown for copying only inside <code> (the escrow's own
# reference, a dispute's reference for staff, a webhook endpoint's or event's id, the customer
# id developers use with the API): ALLOWED_IN_CODE lists the kinds that may be. Anywhere else, or
# of any other kind, it is an internal id a person cannot use. Pages whose ids are all meant to be
# quoted (the evidence record, the admin) say so by their kind.
ID = re.compile(r"\b(intent|milestone|stl|pay|evt|dsp|evd|rfq|mcp|we|whd|cus)_[0-9a-f]{24}\b")
ALLOWED_IN_CODE = {"intent", "dsp", "we", "evt", "cus"}


class _Reader(HTMLParser):
    """The text a person sees or hears: text outside scripts and styles, and the labels given in
    attributes (aria-label, title, alt, placeholder). Text inside <code> is kept apart."""

    SKIP = {"script", "style"}
    LABELS = ("aria-label", "title", "alt", "placeholder")

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.code: list[str] = []
        self._skip = 0
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "code":
            self._code += 1
        for name, value in attrs:
            if name in self.LABELS and value:
                self.text.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "code":
            self._code = max(0, self._code - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            (self.code if self._code else self.text).append(data)


def problems(html: str, *, ids_checked: bool = True) -> list[str]:
    """What a person should not read on this page, each with the text around it."""
    reader = _Reader()
    reader.feed(html)
    text = " ".join(" ".join(reader.text).split())
    code = " ".join(reader.code)
    found = []
    for pattern, what in FORBIDDEN_WORDS:
        for match in pattern.finditer(text):
            found.append(f"{what}: …{text[max(0, match.start() - 60) : match.end() + 60]}…")
    if ids_checked:
        for match in ID.finditer(text):
            found.append(
                f"an internal id outside <code>: …{text[max(0, match.start() - 60) : match.end() + 30]}…"
            )
        for match in ID.finditer(code):
            if match.group(1) not in ALLOWED_IN_CODE:
                found.append(f"an internal id of a kind not meant to be copied: {match.group(0)}")
    return found
