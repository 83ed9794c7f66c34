"""The request lists for `make bench`, written from the run database (inside Django).

Confirm and fund change state, so every line is a different milestone / escrow, used once:
confirms go milestone-major (every escrow's next milestone, then the one after), so a
milestone's predecessor was released long before and concurrent clients never race on one
escrow. The HTTP run takes open escrows with even ids; pgbench takes the odd ones."""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from escrows.models import Escrow, EscrowStatus

PLATFORM_EMAIL = "bench-platform@bench.test"
# Upper bounds for one-shot lists: more than any run on this kind of machine can consume.
MAX_CONFIRMS = 60_000
MAX_FUNDS = 30_000
PAGE_VIEWERS = 40

Row = tuple[str, str, str, dict[str, str]]


@dataclass
class BenchPath:
    name: str
    file: Path
    one_shot: bool = False  # each request changes state and may be sent only once


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _write(path: Path, rows: list[Row]) -> Path:
    with path.open("w") as f:
        for method, url, body, headers in rows:
            f.write("\t".join([method, url, body, "\x1f".join(f"{k}: {v}" for k, v in headers.items())]))
            f.write("\n")
    return path


def _api_key() -> str | None:
    """A platform key that acts for every generated customer (customer-id header)."""
    try:
        from accounts.services import api_key_create
    except ImportError:
        return None
    platform, _ = User.objects.get_or_create(email=PLATFORM_EMAIL, defaults={"is_platform": True})
    User.objects.filter(email__endswith="@gen.test").update(created_by_platform=platform)
    _, key = api_key_create(user=platform, name="bench")
    return key


def _session_cookie(user: User) -> str:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _confirm_rows(key: str) -> tuple[list[Row], list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.public_id, m.public_id, b.customer_id,
                   row_number() OVER (PARTITION BY e.id ORDER BY m.index) AS round,
                   m.id = max(m.id) OVER (PARTITION BY e.id) AS is_last
            FROM escrows_escrow e
            JOIN escrows_milestone m ON m.escrow_id = e.id AND m.status IN ('PENDING', 'COMPLETED')
            JOIN accounts_user b ON b.id = e.buyer_id
            WHERE e.status = 'OPENED' AND e.id %% 2 = 0 AND m.payee_id IS NULL
            ORDER BY round, e.id LIMIT %s
            """,
            [MAX_CONFIRMS],
        )
        rows = cursor.fetchall()
    out: list[Row] = []
    kinds: list[str] = []
    for escrow_id, milestone_id, customer_id, _round, is_last in rows:
        url = _url("api_provider_confirm", escrow_id, milestone_id)
        assert url is not None
        out.append(("POST", url, "", {"Authorization": f"Bearer {key}", "customer-id": customer_id}))
        kinds.append("last" if is_last else "mid")
    return out, kinds


def _fund_rows(key: str) -> list[Row]:
    url = _url("api_provider_pay")
    assert url is not None
    escrows = (
        Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT, buyer__isnull=False)
        .values_list("public_id", "buyer__customer_id")
        .order_by("id")[:MAX_FUNDS]
    )
    rows: list[Row] = []
    for public_id, customer_id in escrows:
        body = {
            "gateway": "WALLET",
            "transactionType": "ESCROW",
            "escrowDetails": {"escrowId": public_id},
            "reference": "bench_" + secrets.token_hex(8),
        }
        headers = {
            "Authorization": f"Bearer {key}",
            "customer-id": customer_id,
            "Content-Type": "application/json",
        }
        rows.append(("POST", url, json.dumps(body), headers))
    return rows


def _busy_customers(n: int) -> list[User]:
    """Customers with the most escrows (the generator's power sellers): the list pages that
    page through hundreds of rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seller_id FROM escrows_escrow GROUP BY seller_id ORDER BY count(*) DESC LIMIT %s", [n]
        )
        ids = [r[0] for r in cursor.fetchall()]
    return list(User.objects.filter(pk__in=ids))


def request_files(work: Path) -> tuple[list[BenchPath], list[str]]:
    notes: list[str] = []
    out: list[BenchPath] = [
        BenchPath("trivial DRF view", _write(work / "trivial.txt", [("GET", "/_bench/trivial", "", {})]))
    ]
    key = _api_key() if _url("api_provider_confirm", "intent_x", "milestone_x") else None
    if key is None:
        notes.append("the provider API (confirm, pay) is not in this tree: those paths were not measured")
    else:
        rows, kinds = _confirm_rows(key)
        (work / "confirm_kinds.txt").write_text("\n".join(kinds) + "\n")
        out.append(BenchPath("confirm milestone (API)", _write(work / "confirm.txt", rows), one_shot=True))
        out.append(BenchPath("fund escrow (API)", _write(work / "fund.txt", _fund_rows(key)), one_shot=True))

    viewers = _busy_customers(PAGE_VIEWERS)
    list_url = _url("api_escrow_list")
    if key is not None and list_url:
        rows = [
            (
                "GET",
                f"{list_url}?limit=50",
                "",
                {"Authorization": f"Bearer {key}", "customer-id": u.customer_id},
            )
            for u in viewers
        ]
        out.append(BenchPath("API list of 50 escrows", _write(work / "api_list.txt", rows)))
    else:
        notes.append("no API list endpoint (api_escrow_list) in this tree: not measured")
    dashboard = _url("dashboard")
    if dashboard:
        cookies = {u.pk: _session_cookie(u) for u in viewers}
        rows = [
            ("GET", f"{dashboard}?tab=selling&page={page}", "", {"Cookie": cookies[u.pk]})
            for u in viewers
            for page in (1, 2, 3)
        ]
        out.append(BenchPath("dashboard list page", _write(work / "dashboard.txt", rows)))
        escrow_rows: list[Row] = []
        for u in viewers:
            for public_id in (
                Escrow.objects.filter(seller=u).order_by("-id").values_list("public_id", flat=True)[:20]
            ):
                escrow_rows.append(
                    ("GET", _url("escrow_detail", public_id) or "", "", {"Cookie": cookies[u.pk]})
                )
        out.append(BenchPath("escrow page", _write(work / "escrow_page.txt", escrow_rows)))
    else:
        notes.append("the dashboard pages are not in this tree: not measured")
    return out, notes
