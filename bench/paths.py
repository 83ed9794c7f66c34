"""The request lists for `make bench`, written from the run database (inside Django).

Confirm and fund change state, so every line is a different milestone / escrow, used once:
confirms go milestone-major (every escrow's next milestone, then the one after), so a
milestone's predecessor was released long before and concurrent clients never race on one
escrow. The HTTP run takes open escrows whose id is divisible by 4; pgbench, several times
faster on a quiet machine, takes the other three quarters (with halves it ran out of targets)."""

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
from bench.confirm_sql import PLAIN_ESCROW
from escrows.models import Escrow, EscrowStatus

# Upper bounds for one-shot lists: more than any run on this kind of machine can consume.
MAX_CONFIRMS = 25_000
MAX_FUNDS = 20_000
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


def _api_keys(customer_ids: set[str]) -> dict[str, str]:
    """One API key per customer (each client its own key, as the per-key rate limit expects),
    made in bulk; returns {customer_id: key}."""
    from accounts.models import APIKey

    users = list(User.objects.filter(customer_id__in=customer_ids))
    objs, keys = [], {}
    for user in users:
        obj = APIKey(user=user, name="bench")
        keys[user.customer_id] = APIKey.objects.assign_key(obj)
        objs.append(obj)
    APIKey.objects.bulk_create(objs, batch_size=1000)
    return keys


def _session_cookie(user: User) -> str:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    # The configured backend: a session naming any other is anonymous (and redirected to login).
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _confirm_rows() -> tuple[list[tuple[str, str, str]], list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.public_id, m.public_id, b.customer_id,
                   row_number() OVER (PARTITION BY e.id ORDER BY m.index) AS round,
                   m.id = max(m.id) OVER (PARTITION BY e.id) AS is_last
            FROM escrows_escrow e
            JOIN escrows_milestone m ON m.escrow_id = e.id AND m.status IN ('PENDING', 'COMPLETED')
            JOIN accounts_user b ON b.id = e.buyer_id
            WHERE e.status = 'OPENED' AND e.id %% 4 = 0 AND m.payee_id IS NULL AND {PLAIN_ESCROW}
            ORDER BY round, e.id LIMIT %s
            """,
            [MAX_CONFIRMS],
        )
        rows = cursor.fetchall()
    out: list[tuple[str, str, str]] = []
    kinds: list[str] = []
    for escrow_id, milestone_id, customer_id, _round, is_last in rows:
        url = _url("api_provider_confirm", escrow_id, milestone_id)
        assert url is not None
        out.append((url, "", customer_id))
        kinds.append("last" if is_last else "mid")
    return out, kinds


def _fund_rows() -> list[tuple[str, str, str]]:
    url = _url("api_provider_pay")
    assert url is not None
    escrows = (
        Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT, buyer__isnull=False)
        .values_list("public_id", "buyer__customer_id")
        .order_by("id")[:MAX_FUNDS]
    )
    rows: list[tuple[str, str, str]] = []
    for public_id, customer_id in escrows:
        body = {
            "gateway": "WALLET",
            "transactionType": "ESCROW",
            "escrowDetails": {"escrowId": public_id},
            "reference": "bench_" + secrets.token_hex(8),
        }
        rows.append((url, json.dumps(body), customer_id))
    return rows


def _api_rows(
    method: str, rows: list[tuple[str, str, str]], keys: dict[str, str], json_body: bool = False
) -> list[Row]:
    """(url, body, customer_id) -> request rows carrying that customer's own key."""
    out: list[Row] = []
    for url, body, customer_id in rows:
        headers = {"Authorization": f"Bearer {keys[customer_id]}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        out.append((method, url, body, headers))
    return out


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
        BenchPath("trivial DRF view", _write(work / "trivial.txt", [("GET", "/_bench/trivial", "", {})] * 16))
    ]
    viewers = _busy_customers(PAGE_VIEWERS)
    keys: dict[str, str] = {}
    if _url("api_provider_confirm", "intent_x", "milestone_x") is None:
        notes.append("the provider API (confirm, pay) is not in this tree: those paths were not measured")
    else:
        confirms, kinds = _confirm_rows()
        funds = _fund_rows()
        keys = _api_keys(
            {c for _, _, c in confirms} | {c for _, _, c in funds} | {u.customer_id for u in viewers}
        )
        (work / "confirm_kinds.txt").write_text("\n".join(kinds) + "\n")
        rows = _api_rows("POST", confirms, keys)
        out.append(BenchPath("confirm milestone (API)", _write(work / "confirm.txt", rows), one_shot=True))
        rows = _api_rows("POST", funds, keys, json_body=True)
        out.append(BenchPath("fund escrow (API)", _write(work / "fund.txt", rows), one_shot=True))

    list_url = _url("api_escrow_list")
    if keys and list_url:
        rows = _api_rows("GET", [(f"{list_url}?limit=50", "", u.customer_id) for u in viewers], keys)
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
