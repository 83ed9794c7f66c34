"""Authorization of what the matrix (test_authz_matrix.py) leaves out: the collection and create
endpoints of the API and the pages that are not about one escrow (dashboard, balance, API keys,
webhooks and their delivery log, the staff disputes list, the payment link).

The owner here is a customer of a platform (made as POST /v1/customer/create makes them), so
"another platform" names a customer that exists but is not its own. In the world each cell
starts from, the owner has escrows (one disputed, one awaiting payment), a webhook endpoint
with a failed delivery, an API key and a payout, and the stranger has an escrow and an endpoint
of their own; a call that changed anything gets a fresh world for the next cell, so an earlier
success cannot hide a later one. A list shows its caller only their own objects (the stranger's
answer must show the stranger's and none of the owner's), a create acts only on the caller's
account, and a refused attempt changes nothing at all: the ledger fingerprint, the row count of
every model and the owner's keys, endpoints, deliveries, balances and escrows are compared
before and after."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.db.models import Q
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import APIKey, User
from accounts.services import api_key_create, api_key_revoke, customer_create_for_platform
from escrows import selectors, services
from escrows.models import Escrow, Milestone, Settlement
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import fund, ledger_fingerprint, milestones
from tests.reliability import figures
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint

SECTION = "authorization matrix"  # the matrix's own section: the printed table counts both
PRINCIPALS = ("owner", "counterparty", "stranger", "other platform", "revoked key", "no key")
SIGNED_IN = ("owner", "counterparty", "stranger")
# Keys mean nothing to pages: these three are anonymous there however the request is dressed.
ANONYMOUS = ("other platform", "revoked key", "no key")
LOGIN = "/accounts/login/"


@dataclass
class World:
    platform: User
    other_platform: User
    owner: User  # a customer of `platform`
    counterparty: User  # the buyer of the owner's escrows
    stranger: User
    escrow: Escrow  # funded, owner sells to counterparty, a milestone disputed by the buyer
    reserved: Escrow  # awaiting payment, reserved for counterparty: its /pay/ link
    stranger_escrow: Escrow
    hook: WebhookEndpoint
    delivery: WebhookDelivery  # the owner's, failed (so it may be resent)
    stranger_hook: WebhookEndpoint
    owner_key_prefix: str
    destination: str  # of the owner's payout
    keys: dict[str, str] = field(default_factory=dict)


def _world() -> World:
    tag = secrets.token_hex(6)
    platform = UserFactory(is_platform=True)
    other_platform = UserFactory(is_platform=True)
    owner = customer_create_for_platform(
        platform=platform, email=f"owner-{tag}@example.test", first_name="Owner", last_name=tag
    )
    counterparty = UserFactory(email=f"counterparty-{tag}@example.test")
    stranger = UserFactory(email=f"stranger-{tag}@example.test")

    def escrow_of(seller: User, buyer: User | None, title: str) -> Escrow:
        return services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(title=title, currency="USD", amount=100_000),
            milestones=[
                MilestoneInput(amount=30_000, title="One"),
                MilestoneInput(amount=70_000, title="Two"),
            ],
        )

    hook = webhook_services.webhook_endpoint_create(
        customer=owner, url=f"http://127.0.0.1:8149/owner-{tag}", description=f"owner hook {tag}"
    )
    stranger_hook = webhook_services.webhook_endpoint_create(
        customer=stranger, url=f"http://127.0.0.1:8149/stranger-{tag}"
    )
    escrow = escrow_of(owner, counterparty, f"Owner funded {tag}")
    fund(escrow, counterparty)
    services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=counterparty, reason="late")
    reserved = escrow_of(owner, counterparty, f"Owner reserved {tag}")
    stranger_escrow = escrow_of(stranger, None, f"Stranger {tag}")
    # Enough in the stranger's wallet to pay the reserved link: a refusal is never for want of money.
    services.wallet_topup(customer=stranger, amount=reserved.total_charge, currency="USD")
    services.wallet_topup(customer=counterparty, amount=reserved.total_charge, currency="USD")
    destination = f"bank_account_owner_{tag}"
    services.wallet_topup(customer=owner, amount=50_000, currency="USD")
    services.wallet_withdraw(customer=owner, amount=10_000, currency="USD", destination=destination)
    webhook_services.events_dispatch()
    delivery = WebhookDelivery.objects.filter(endpoint=hook).order_by("pk").first()
    WebhookDelivery.objects.filter(endpoint__in=[hook, stranger_hook]).update(status="FAILED")
    owner_key, _ = api_key_create(user=owner, name=f"owner key {tag}")
    _, revoked = api_key_create(user=platform)
    api_key_revoke(user=platform, prefix=revoked.split(".")[0])
    keys = {
        "owner": api_key_create(user=platform)[1],  # the platform, acting for the owner
        "counterparty": api_key_create(user=counterparty)[1],
        "stranger": api_key_create(user=stranger)[1],
        "other platform": api_key_create(user=other_platform)[1],
        "revoked key": revoked,
    }
    return World(
        platform=platform,
        other_platform=other_platform,
        owner=owner,
        counterparty=counterparty,
        stranger=stranger,
        escrow=escrow,
        reserved=reserved,
        stranger_escrow=stranger_escrow,
        hook=hook,
        delivery=delivery,
        stranger_hook=stranger_hook,
        owner_key_prefix=owner_key.prefix,
        destination=destination,
        keys=keys,
    )


def _owner_markers(world: World) -> dict[str, str]:
    """What nobody but the owner (and, where an endpoint says so, the counterparty) may read."""
    return {
        "escrow id": world.escrow.public_id,
        "escrow token": world.escrow.payment_token,
        "escrow title": world.escrow.title,
        "milestone id": milestones(world.escrow)[0].public_id,
        "reserved id": world.reserved.public_id,
        "reserved token": world.reserved.payment_token,
        "reserved title": world.reserved.title,
        "webhook id": world.hook.public_id,
        "webhook secret": world.hook.secret,
        "webhook url": world.hook.url,
        "delivery id": world.delivery.public_id,
        "api key prefix": world.owner_key_prefix,
        "payout destination": world.destination,
        "owner email": world.owner.email,
        "owner customer id": world.owner.customer_id,
        "buyer email": world.counterparty.email,
    }


# -- the clients --------------------------------------------------------------------------------


def _api_client(world: World, principal: str) -> APIClient:
    client = APIClient()
    headers = {}
    if principal != "no key":
        headers["HTTP_X_API_KEY"] = world.keys[principal]
    if principal in ("owner", "other platform", "revoked key"):
        # The owner is reached through its platform; the other platform names the same customer.
        headers["HTTP_CUSTOMER_ID"] = world.owner.customer_id
    client.credentials(**headers)
    return client


def _page_client(world: World, principal: str) -> Client:
    client = Client()
    user = {"owner": world.owner, "counterparty": world.counterparty, "stranger": world.stranger}.get(
        principal
    )
    if user is not None:
        client.force_login(user)
    elif principal != "no key":
        client.defaults["HTTP_X_API_KEY"] = world.keys[principal]
        client.defaults["HTTP_CUSTOMER_ID"] = world.owner.customer_id
    return client


# -- what a refusal must leave alone ----------------------------------------------------------------


def _row_counts() -> tuple[tuple[str, int], ...]:
    return tuple(
        (model._meta.label, model.objects.count())
        for label in ("accounts", "escrows", "webhooks")
        for model in apps.get_app_config(label).get_models()
    )


def _owner_state(world: World) -> tuple:
    """The owner's things: keys, endpoints, deliveries, balances, escrows, payouts, customers."""
    escrows = Escrow.objects.filter(Q(seller=world.owner) | Q(buyer=world.owner))
    return (
        tuple(
            APIKey.objects.filter(user__in=[world.owner, world.platform])
            .order_by("pk")
            .values_list("prefix", "revoked")
        ),
        tuple(
            WebhookEndpoint.objects.filter(customer=world.owner)
            .order_by("pk")
            .values_list("public_id", "url", "description", "enabled", "secret")
        ),
        tuple(
            WebhookDelivery.objects.filter(endpoint__customer=world.owner)
            .order_by("pk")
            .values_list("public_id", "status", "attempts")
        ),
        tuple(
            sorted((c, tuple(sorted(v.items()))) for c, v in selectors.balances_for_user(world.owner).items())
        ),
        tuple(escrows.order_by("pk").values_list("public_id", "status", "amount", "fee", "buyer_id")),
        tuple(Milestone.objects.filter(escrow__in=escrows).order_by("pk").values_list("public_id", "status")),
        tuple(
            Settlement.objects.filter(customer=world.owner).order_by("pk").values_list("public_id", "status")
        ),
        User.objects.filter(created_by_platform=world.platform).count(),
        tuple(User.objects.filter(pk=world.owner.pk).values_list("email", "is_active", "customer_id")),
    )


def _snapshot(world: World) -> tuple:
    return ledger_fingerprint(), _row_counts(), _owner_state(world)


# -- the endpoints ----------------------------------------------------------------------------------


def _api(owner: int, counterparty: int, stranger: int, other: int = 404) -> dict[str, int]:
    return {
        "owner": owner,
        "counterparty": counterparty,
        "stranger": stranger,
        "other platform": other,
        "revoked key": 401,
        "no key": 401,
    }


def _page(owner: int, counterparty: int, stranger: int, anonymous: int = 302) -> dict[str, int]:
    return {"owner": owner, "counterparty": counterparty, "stranger": stranger} | dict.fromkeys(
        ANONYMOUS, anonymous
    )


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # "api" | "page"
    call: Callable[[World, object], object]
    expect: dict[str, int]
    # Whose call may succeed and change their own things (never the owner's).
    allowed: frozenset[str] = frozenset()
    # Who may change the owner's things.
    entitled: frozenset[str] = frozenset({"owner"})
    # Who may read the owner's objects in the answer.
    may_see: frozenset[str] = frozenset({"owner"})
    # Markers the answer may show to anyone who gets it (a payment link shows what it sells).
    public: frozenset[str] = frozenset()
    # Markers of the owner's escrow the counterparty bought, which the counterparty's own answer
    # may show (their statement names what they paid for); the rest stays hidden from them.
    counterparty_sees: frozenset[str] = frozenset()
    # What a successful answer must show its caller (the stranger their own objects, the owner
    # theirs): a list that answers nothing at all would pass the other checks.
    shows: dict[str, Callable[[World], list[str]]] = field(default_factory=dict)
    login: str = LOGIN  # where anonymous visits are sent
    # For creates: whose the created object is (it must be the caller's, acting customer's).
    made: Callable[[object], User] | None = None


ALL = frozenset(PRINCIPALS)
SIGNED = frozenset(SIGNED_IN)
OWNER_AND_BUYER = frozenset({"owner", "counterparty"})


def _new_hook(world: World) -> dict[str, str]:
    return {"url": f"http://127.0.0.1:8149/new-{secrets.token_hex(4)}", "description": "new"}


def _escrow_form() -> dict[str, str]:
    return {
        "title": "A new one",
        "currency": "USD",
        "amount": "100.00",
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "0",
        "form-0-title": "A",
        "form-0-amount": "40.00",
        "form-1-title": "B",
        "form-1-amount": "60.00",
    }


def _owner_escrows(w: World) -> list[str]:
    return [w.escrow.public_id, w.reserved.public_id]


def _owner_hooks(w: World) -> list[str]:
    return [w.hook.public_id]


def _provider_escrow() -> dict:
    parts = [{"title": "A", "amount": 40}, {"title": "B", "amount": 60}]
    return {"amount": 100, "purpose": "New", "milestones": parts}


def _stranger_escrows(w: World) -> list[str]:
    return [w.stranger_escrow.public_id]


def _stranger_hooks(w: World) -> list[str]:
    return [w.stranger_hook.public_id]


ENDPOINTS = [
    # -- API: lists
    Endpoint("GET escrow list", "api", lambda w, c: c.get("/v1/escrow/list"), _api(200, 200, 200),
             allowed=SIGNED, may_see=OWNER_AND_BUYER,
             shows={"owner": _owner_escrows, "counterparty": _owner_escrows, "stranger": _stranger_escrows}),
    Endpoint("GET escrow list (buying)", "api", lambda w, c: c.get("/v1/escrow/list?role=buying&limit=1"),
             _api(200, 200, 200), allowed=SIGNED, may_see=OWNER_AND_BUYER),
    Endpoint("GET escrow list with a made-up cursor", "api",
             lambda w, c: c.get(f"/v1/escrow/list?cursor={_cursor_after(w.stranger_escrow)}"),
             _api(200, 200, 200), allowed=SIGNED, may_see=OWNER_AND_BUYER),
    Endpoint("GET webhooks", "api", lambda w, c: c.get("/v1/webhooks"), _api(200, 200, 200),
             allowed=SIGNED, shows={"owner": _owner_hooks, "stranger": _stranger_hooks}),
    Endpoint("GET payment-intents (no list route)", "api", lambda w, c: c.get("/v1/payment-intents"),
             _api(405, 405, 405), allowed=SIGNED),
    Endpoint("GET fee-quote", "api",
             lambda w, c: c.get("/v1/fee-quote?currency=USD&amount=100.00&milestones=40.00,60.00"),
             _api(200, 200, 200), allowed=SIGNED),
    # -- API: creates (on the caller's own account only)
    Endpoint("POST webhooks", "api", lambda w, c: c.post("/v1/webhooks", _new_hook(w), format="json"),
             _api(201, 201, 201), allowed=SIGNED, made=lambda r: _hook_customer(r.json()["id"])),
    Endpoint("POST payment-intents", "api",
             lambda w, c: c.post("/v1/payment-intents", {"amount": "100.00", "currency": "USD"},
                                 format="json"),
             _api(201, 201, 201), allowed=SIGNED, made=lambda r: _escrow_seller(r.json()["id"])),
    Endpoint("POST provider escrow create", "api",
             lambda w, c: c.post("/v1/escrow/milestone/create", _provider_escrow(), format="json"),
             _api(201, 201, 201), allowed=SIGNED, made=lambda r: _escrow_seller(r.json()["data"]["id"])),
    Endpoint("POST payment topup", "api",
             lambda w, c: c.post("/v1/payment/topup", {"amount": 25, "currency": "USD"}, format="json"),
             _api(200, 200, 200), allowed=SIGNED),
    # Only the platform itself creates customers: not while acting for one, not a non-platform.
    Endpoint("POST customer create", "api",
             lambda w, c: c.post("/v1/customer/create", {"email": f"new-{secrets.token_hex(4)}@example.test"},
                                 format="json"),
             _api(400, 403, 403)),
    # -- API: deletes of someone else's endpoint
    Endpoint("DELETE owner's webhook", "api", lambda w, c: c.delete(f"/v1/webhooks/{w.hook.public_id}"),
             _api(200, 404, 404)),
    Endpoint("DELETE stranger's webhook", "api",
             lambda w, c: c.delete(f"/v1/webhooks/{w.stranger_hook.public_id}"), _api(404, 404, 200),
             allowed=frozenset({"stranger"}), entitled=frozenset()),
    # -- pages
    Endpoint("page dashboard", "page", lambda w, c: c.get("/dashboard/"), _page(200, 200, 200),
             allowed=SIGNED, shows={"owner": _owner_escrows, "stranger": _stranger_escrows}),
    Endpoint("page dashboard (buying)", "page", lambda w, c: c.get("/dashboard/?tab=buying"),
             _page(200, 200, 200), allowed=SIGNED, may_see=OWNER_AND_BUYER,
             shows={"counterparty": _owner_escrows}),
    Endpoint("page dashboard search for the owner's escrow", "page",
             lambda w, c: c.get(f"/dashboard/?q={w.escrow.public_id}"), _page(200, 200, 200), allowed=SIGNED,
             public=frozenset({"escrow id"})),  # the search box shows what was typed
    Endpoint("page balance", "page", lambda w, c: c.get("/balance/"), _page(200, 200, 200), allowed=SIGNED,
             counterparty_sees=frozenset({"escrow id", "escrow title"}),
             shows={"owner": lambda w: [w.destination], "counterparty": lambda w: [w.escrow.title]}),
    Endpoint("page balance topup", "page",
             lambda w, c: c.post("/balance/topup/", {"currency": "USD", "amount": "5.00"}),
             _page(302, 302, 302), allowed=SIGNED),
    Endpoint("page balance withdraw", "page",
             lambda w, c: c.post("/balance/withdraw/",
                                 {"currency": "USD", "amount": "5.00", "destination": "bank_account_mine"}),
             _page(302, 302, 302), allowed=SIGNED),
    Endpoint("page new escrow", "page", lambda w, c: c.get("/escrows/new/"), _page(200, 200, 200),
             allowed=SIGNED),
    Endpoint("page new escrow create", "page", lambda w, c: c.post("/escrows/new/", _escrow_form()),
             _page(302, 302, 302), allowed=SIGNED, made=lambda r: _escrow_seller(_last_part(r["Location"]))),
    # Not behind a login: a pure computation on the form as typed (no object is read).
    Endpoint("page fee quote partial", "page",
             lambda w, c: c.get("/escrows/fee-quote/?currency=USD&amount=100.00"), _page(200, 200, 200, 200),
             allowed=ALL),
    Endpoint("page API keys", "page", lambda w, c: c.get("/settings/api-keys/"), _page(200, 200, 200),
             allowed=SIGNED, shows={"owner": lambda w: [w.owner_key_prefix]}),
    # Creating posts, then redirects to the keys page (a reload never makes a second key).
    Endpoint("page API key create", "page", lambda w, c: c.post("/settings/api-keys/", {"name": "mine"}),
             _page(302, 302, 302), allowed=SIGNED,
             made=lambda r: APIKey.objects.filter(name="mine").latest("created").user),
    # Someone else's prefix: "API key not found" as a message on the redirect, and nothing revoked.
    Endpoint("page API key revoke", "page",
             lambda w, c: c.post(f"/settings/api-keys/{w.owner_key_prefix}/revoke"), _page(302, 302, 302)),
    Endpoint("page webhooks", "page", lambda w, c: c.get("/settings/webhooks/"), _page(200, 200, 200),
             allowed=SIGNED, shows={"owner": lambda w: [w.hook.public_id, w.delivery.public_id],
                                    "stranger": _stranger_hooks}),
    Endpoint("page webhooks add", "page", lambda w, c: c.post("/settings/webhooks/", _new_hook(w)),
             _page(302, 302, 302), allowed=SIGNED, made=lambda r: _hook_customer(_last_part(r["Location"]))),
    Endpoint("page webhook delivery resend", "page",
             lambda w, c: c.post(f"/settings/webhooks/deliveries/{w.delivery.public_id}/resend"),
             _page(302, 404, 404)),
    Endpoint("page staff disputes (staff only)", "page", lambda w, c: c.get("/staff/disputes/"),
             _page(404, 404, 404), entitled=frozenset(), may_see=frozenset()),
    Endpoint("page admin escrows (staff only)", "page", lambda w, c: c.get("/admin/escrows/escrow/"),
             _page(302, 302, 302), entitled=frozenset(), may_see=frozenset(), login="/admin/login/"),
    # The payment link is a capability (the matrix's own test): whoever holds it sees what it
    # sells, but only the buyer it is reserved for gets a pay form or can pay.
    Endpoint("page payment link", "page", lambda w, c: c.get(f"/pay/{w.reserved.payment_token}"),
             _page(200, 200, 200, 200), allowed=ALL, may_see=OWNER_AND_BUYER,
             public=frozenset({"reserved token", "reserved title"})),
    Endpoint("page payment link pay", "page",
             lambda w, c: c.post(f"/pay/{w.reserved.payment_token}", {"source": "WALLET"}),
             _page(302, 302, 302), entitled=OWNER_AND_BUYER),
]  # fmt: skip


def _escrow_seller(public_id: str) -> User:
    return Escrow.objects.get(public_id=public_id).seller


def _hook_customer(public_id: str) -> User:
    return WebhookEndpoint.objects.get(public_id=public_id).customer


def _last_part(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def _caller(world: World, principal: str) -> User:
    return {"owner": world.owner, "counterparty": world.counterparty, "stranger": world.stranger}[principal]


def _cursor_after(escrow: Escrow) -> str:
    """A cursor past the stranger's escrow (and so past the owner's, made before it)."""
    from escrows.api.provider.escrow_list import _cursor_of

    return _cursor_of(escrow.created_at, escrow.pk + 1_000)


def _pay_form_shown(body: str) -> bool:
    return "data-pay-form" in body


@pytest.mark.django_db
def test_collections_creates_and_pages(capsys, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    attempts = 0
    wrong_successes: list[tuple] = []
    mismatches: list[tuple] = []
    for endpoint in ENDPOINTS:
        world = None
        for principal in PRINCIPALS:
            # Every cell starts from an untouched world: a fresh one after any call that changed
            # something (so an earlier success cannot hide a later one), else the same one.
            world = world or _world()
            client = (_api_client if endpoint.kind == "api" else _page_client)(world, principal)
            markers = _owner_markers(world)
            before = _snapshot(world)
            response = endpoint.call(world, client)
            attempts += 1
            status = response.status_code
            body = response.content.decode(errors="replace")
            expected = endpoint.expect[principal]
            after = _snapshot(world)
            cell = (endpoint.name, principal)
            if status != expected:
                mismatches.append((*cell, expected, status, body[:200]))
            wrong = []
            if principal not in endpoint.may_see:
                # A caller's own email is not a secret from them (every page they see says
                # "Signed in as" it, a 404 too); the counterparty's is "buyer email".
                own = {"owner": {"owner email"}, "counterparty": {"buyer email"}}.get(principal, set())
                bought = endpoint.counterparty_sees if principal == "counterparty" else frozenset()
                hidden = endpoint.public | own | bought
                leaked = [k for k, v in markers.items() if k not in hidden and v in body]
                if leaked:
                    wrong.append(f"shows the owner's {', '.join(leaked)}")
            if principal not in endpoint.allowed | endpoint.entitled:
                if 200 <= status < 300:
                    wrong.append(f"answered {status}")
                if after != before:
                    wrong.append("a refusal changed something")
            elif principal not in endpoint.entitled and after[2] != before[2]:
                wrong.append("changed the owner's things")
            if wrong:
                wrong_successes.append((*cell, status, "; ".join(wrong)))
            # The answers themselves.
            if principal in endpoint.shows and status == 200:
                missing = [m for m in endpoint.shows[principal](world) if m not in body]
                if missing:
                    mismatches.append((*cell, "its own objects shown", status, f"missing {missing}"))
            if endpoint.made and principal in SIGNED_IN and 200 <= status < 400:
                maker = endpoint.made(response)
                if maker.pk != _caller(world, principal).pk:
                    mismatches.append((*cell, "made for the caller", status, f"made for {maker.email}"))
            if endpoint.kind == "api" and principal == "other platform" and "Customer not found" not in body:
                mismatches.append((*cell, "Customer not found", status, body[:200]))
            anonymous_page = endpoint.kind == "page" and principal in ANONYMOUS
            if anonymous_page and status == 302 and not response["Location"].startswith(endpoint.login):
                # Anonymous page visits are sent to the login page, nowhere else.
                mismatches.append((*cell, endpoint.login, status, response["Location"]))
            if endpoint.name == "page payment link" and _pay_form_shown(body) != (
                principal == "counterparty"
            ):
                mismatches.append((*cell, "pay form only for its buyer", status, ""))
            if after != before:
                world = None
    figures.add(SECTION, "attempts", attempts)
    figures.add(SECTION, "succeeded wrongly", len(wrong_successes))
    figures.add(SECTION, "violations", len(wrong_successes) + len(mismatches))
    with capsys.disabled():
        print(f"\nauthorization of collections and pages: {attempts} attempts, {len(wrong_successes)} "
              f"succeeded wrongly, {len(mismatches)} answered other than expected")  # fmt: skip
    assert wrong_successes == [], "\n".join(map(str, wrong_successes + mismatches))
    assert mismatches == [], "\n".join(map(str, mismatches))
    assert attempts == len(ENDPOINTS) * len(PRINCIPALS)


@pytest.mark.django_db
def test_the_staff_pages_refused_above_are_refused_by_the_staff_gate(settings):
    """The control of the two staff rows: a staff user gets the disputes list (which names the
    owner's disputed escrow) and the admin list, so the non-staff 404s and redirects above come
    from the gate, not from a broken page."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    world = _world()
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    for url in ("/staff/disputes/", "/admin/escrows/escrow/"):
        before = _snapshot(world)
        response = client.get(url)
        figures.add(SECTION, "attempts")
        assert response.status_code == 200, (url, response.status_code)
        assert world.escrow.public_id in response.content.decode(), url
        assert _snapshot(world) == before


@pytest.mark.django_db
def test_a_platform_acts_only_for_the_customers_it_created(settings):
    """customer-id names whom a platform key acts for: a customer the platform created over the
    API, yes; anyone else (another platform's customer, a customer of nobody, a deactivated
    customer) is "Customer not found", and so is any customer-id sent with a non-platform key."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    world = _world()

    def call(key: str, customer_id: str | None, method: str = "get", path: str = "/v1/escrow/list", **body):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key, **({"HTTP_CUSTOMER_ID": customer_id} if customer_id else {}))
        figures.add(SECTION, "attempts")
        return client.post(path, body, format="json") if method == "post" else client.get(path)

    platform_key = world.keys["owner"]
    created = call(platform_key, None, "post", "/v1/customer/create", email="made-by-api@example.test")
    assert created.status_code == 201, created.content
    new_id = created.json()["data"]["customerId"]
    new_customer = User.objects.get(customer_id=new_id)
    assert new_customer.created_by_platform_id == world.platform.pk
    listed = call(platform_key, new_id)
    assert listed.status_code == 200 and listed.json()["data"]["escrows"] == []
    topped = call(platform_key, new_id, "post", "/v1/payment/topup", amount=7, currency="USD")
    assert topped.status_code == 200 and selectors.wallet_balance(new_customer, "USD") == 700
    assert selectors.wallet_balance(world.platform, "USD") == 0

    inactive = customer_create_for_platform(platform=world.platform, email="gone@example.test")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    refusals = [
        (world.keys["other platform"], new_id),  # another platform's customer
        (world.keys["other platform"], world.owner.customer_id),
        (platform_key, world.stranger.customer_id),  # a customer of nobody
        (platform_key, world.other_platform.customer_id),  # another platform itself
        (platform_key, inactive.customer_id),  # deactivated
        (platform_key, "cus_" + "0" * 24),  # no such customer
        (platform_key, "not-a-customer-id"),
        (world.keys["stranger"], world.owner.customer_id),  # not a platform at all
        (world.keys["counterparty"], world.stranger.customer_id),
    ]
    wrong = []
    for key, customer_id in refusals:
        for method, path, body in (
            ("get", "/v1/escrow/list", {}),
            ("get", "/v1/webhooks", {}),
            ("post", "/v1/payment/topup", {"amount": 9, "currency": "USD"}),
            ("post", "/v1/webhooks", {"url": "http://127.0.0.1:8149/x"}),
        ):
            before = _snapshot(world)
            response = call(key, customer_id, method, path, **body)
            if (
                response.status_code != 404
                or "Customer not found" not in response.content.decode()
                or _snapshot(world) != before
            ):
                wrong.append((customer_id, method, path, response.status_code, response.content[:120]))
    figures.add(SECTION, "succeeded wrongly", len(wrong))
    figures.add(SECTION, "violations", len(wrong))
    assert wrong == []
