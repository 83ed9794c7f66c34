"""Every hot statement: the SQL the busiest paths send, each named, with the plain-ORM queryset
or save it stands for and its compiled form (core/compiled.py).

With HOT_STATEMENTS on (the default) and on PostgreSQL each runs compiled once per process and
prepared per connection; with it off, or on any other database, each runs as the plain ORM it
stands for, with the same results (CI runs the service tests both ways). A statement belongs
here only while `make bench` shows it pays on its path (docs/performance.md); no other module
sends SQL past the ORM.

The API key's statements are here too, although the key is accounts' model: accounts imports
nothing from escrows, so its authentication does the plain lookup and the API's subclass of it
(escrows/api/common.py) uses these."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from accounts.models import APIKey, User
from core.compiled import SENTINEL_PK, CompiledInsert, CompiledQuery, CompiledUpdate, hot, hot_cursor

# Modules, not names: ledger and selectors import this module too.
from . import ledger, selectors
from .models import Escrow, Event, LedgerAccount, LedgerEntry, LedgerTransaction, Milestone, Payment

# -- every state change (services/_internal.py): the escrow row lock, its milestones, the event
# row, a milestone's release or settling, the escrow's close


def _locked_escrow(value: int | str, *, with_seller_account: bool, by: str = "pk") -> QuerySet[Escrow]:
    """The escrow under a row lock, with its parties and hold account (only the escrow row is
    locked); with `with_seller_account` also the id of the seller's main account (a release pays
    it)."""
    qs = Escrow.objects.select_for_update(of=("self",)).select_related("seller", "buyer", "hold_account")
    if with_seller_account:
        qs = qs.annotate(
            seller_account_id=ledger.customer_account_id(OuterRef("seller_id"), OuterRef("currency"))
        )
    return qs.filter(**{by: value})


LOCK_ESCROW = CompiledQuery(lambda pk: _locked_escrow(pk, with_seller_account=False), SENTINEL_PK)
LOCK_ESCROW_FOR_RELEASE = CompiledQuery(lambda pk: _locked_escrow(pk, with_seller_account=True), SENTINEL_PK)
# The API's confirm addresses the escrow by its public id (milestone_confirm).
LOCK_ESCROW_FOR_CONFIRM = CompiledQuery(
    lambda public_id: _locked_escrow(public_id, with_seller_account=True, by="public_id"),
    "__escrow_public_id__",
)
MILESTONES = CompiledQuery(lambda pk: Milestone.objects.filter(escrow_id=pk).order_by("index"), SENTINEL_PK)
INSERT_EVENT = CompiledInsert(Event)  # Event.objects.create(...)
SAVE_RELEASED = CompiledUpdate(Milestone, "status", "released_at")  # save(update_fields=[...])
SAVE_CLOSED = CompiledUpdate(Escrow, "status", "closed_at", "updated_at")

# -- paying an escrow (services/funding.py)

SAVE_FUNDED = CompiledUpdate(Escrow, "status", "funded_at", "buyer", "updated_at")
INSERT_PAYMENT = CompiledInsert(Payment)
PAYMENT_BY_REFERENCE = CompiledQuery(
    lambda payer_id, reference: Payment.objects.filter(payer_id=payer_id, reference=reference)[:1],
    SENTINEL_PK,
    "__payment_reference__",
)

# -- the ledger (ledger.py): the account lookups every funding and top-up makes, a new hold
# account, the payer's account lock, and the posting itself

PLATFORM_ACCOUNT = CompiledQuery(
    lambda kind, currency: LedgerAccount.objects.filter(
        kind=kind, currency=currency, owner__isnull=True, escrow__isnull=True
    )[:1],
    "__kind__",
    "__currency__",
)
OWNED_ACCOUNT = CompiledQuery(
    lambda kind, currency, owner: LedgerAccount.objects.filter(
        kind=kind, currency=currency, owner_id=owner, escrow__isnull=True
    )[:1],
    "__kind__",
    "__currency__",
    SENTINEL_PK,
)
INSERT_ACCOUNT = CompiledInsert(LedgerAccount)
LOCK_ACCOUNT = CompiledQuery(lambda pk: LedgerAccount.objects.select_for_update().filter(pk=pk), SENTINEL_PK)

# One round trip for the whole posting: the transaction row, its entries and the running
# balances. The balance rows are locked in primary-key order (the ORDER BY ... FOR UPDATE
# sub-select) before they are updated, so two postings never deadlock; an overdraft still fails
# the check constraint with an IntegrityError, as the ORM update does.
POST_SQL = """
WITH txn AS (
    INSERT INTO escrows_ledgertransaction
        (kind, currency, escrow_id, milestone_id, settlement_id, memo, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    RETURNING id
), entries AS (
    INSERT INTO escrows_ledgerentry (transaction_id, account_id, amount)
    SELECT txn.id, leg.account_id, leg.amount
    FROM txn, UNNEST(%s::bigint[], %s::bigint[]) AS leg(account_id, amount)
), locked AS (
    SELECT id FROM escrows_ledgeraccount WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE
), balances AS (
    UPDATE escrows_ledgeraccount AS account SET balance = account.balance + delta.amount
    FROM locked, UNNEST(%s::bigint[], %s::bigint[]) AS delta(account_id, amount)
    WHERE account.id = locked.id AND account.id = delta.account_id
)
SELECT id FROM txn
"""


def post_ledger(
    txn: LedgerTransaction, legs: Sequence[tuple[LedgerAccount, int]], tracked: Sequence[tuple[int, int]]
) -> None:
    """Store a posting: `txn` (unsaved), its legs (account, amount) and the running balances to
    move (account id, delta), in account id order. Plain: the transaction row, its entries, then
    one balance update per account, in that order, so two postings never deadlock."""
    connection = transaction.get_connection()
    if not hot(connection.alias):
        txn.save(force_insert=True)
        LedgerEntry.objects.bulk_create(
            [LedgerEntry(transaction=txn, account=account, amount=amount) for account, amount in legs]
        )
        for pk, amount in tracked:
            LedgerAccount.objects.filter(pk=pk).update(balance=F("balance") + amount)
        return
    with hot_cursor(connection.alias) as cursor:
        cursor.execute(
            POST_SQL,
            [
                txn.kind,
                txn.currency,
                txn.escrow_id,
                txn.milestone_id,
                txn.settlement_id,
                txn.memo,
                txn.created_at,
                [account.pk for account, _ in legs],
                [amount for _, amount in legs],
                [pk for pk, _ in tracked],
                [pk for pk, _ in tracked],
                [amount for _, amount in tracked],
            ],
        )
        txn.pk = cursor.fetchone()[0]
    txn._state.adding = False
    txn._state.db = connection.alias


# -- the pay call's lookup (api/provider/base.py), by the escrow's public id

ESCROW_BY_PUBLIC_ID = CompiledQuery(
    lambda public_id: Escrow.objects.select_related("seller", "buyer").filter(public_id=public_id)[:1],
    "__escrow_id__",
)

# -- the API list (api/provider/escrow_list.py): a page of the customer's escrows, newest first,
# keyset-paginated on (created_at, id), and the milestones of the page

_SENTINEL_TIME = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)
_PAGES: dict[tuple[str, int, bool], CompiledQuery] = {}


def _customer_id_of(field: str) -> Subquery:
    """A party's public id as a scalar subquery rather than a join: PostgreSQL evaluates it for
    the rows the LIMIT keeps (51 index lookups), where joining accounts_user before the top-N
    sort made it hash the whole user table twice (EXPLAIN on the 100k set: 14 ms -> 0.9 ms)."""
    return Subquery(User.objects.filter(pk=OuterRef(field)).values("customer_id")[:1])


def escrow_values(qs: QuerySet[Escrow]) -> Any:
    """The rows Payluk's escrow object is made of (api/provider/base.escrow_output): the list's
    query here, and the page-numbered transactions list's."""
    from .api.provider.base import ESCROW_COLUMNS  # imported late: the API imports this module

    return qs.values(
        *ESCROW_COLUMNS,
        seller_customer_id=_customer_id_of("seller_id"),
        buyer_customer_id=_customer_id_of("buyer_id"),
    )


def _list_side(
    user_pk: int,
    role: str | None,
    size: int,
    after: tuple[datetime, int] | None,
    exclude_seller: bool = False,
) -> Any:
    qs = selectors.escrows_for_user(User(pk=user_pk), role=role)
    if exclude_seller:
        qs = qs.exclude(seller_id=user_pk)
    if after is not None:
        created_at, pk = after
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    return escrow_values(qs)[: size + 1]


def _list_page(user_pk: int, role: str, size: int, after: tuple[datetime, int] | None) -> Any:
    """`size` + 1 rows (one more tells whether a next page exists) of values()."""
    if role != "all" or not connections["default"].features.supports_slicing_ordering_in_compound:
        # SQLite cannot limit each side of a UNION: there "all" is the plain OR query.
        return _list_side(user_pk, None if role == "all" else role, size, after)
    # Both sides: two keyset scans of size+1 rows each (the seller and buyer keyset indexes),
    # merged and cut to size+1. A single "seller = me OR buyer = me" query read and sorted
    # every escrow the customer ever had (a bitmap OR of the two indexes), so its cost grew
    # with the customer's history. An escrow whose seller is also its buyer is on the selling
    # side only.
    selling = _list_side(user_pk, "selling", size, after)
    buying = _list_side(user_pk, "buying", size, after, exclude_seller=True)
    return selling.union(buying, all=True).order_by("-created_at", "-pk")[: size + 1]


def list_page(role: str, size: int, *, after: bool) -> CompiledQuery:
    """The page query of one shape (role, fetch size, after a cursor or not); its parameters are
    the user's id, and with `after` the cursor's created_at and id."""
    key = (role, size, after)
    if key not in _PAGES:
        if after:
            _PAGES[key] = CompiledQuery(
                lambda user, created_at, pk: _list_page(user, role, size, (created_at, pk)),
                SENTINEL_PK,
                _SENTINEL_TIME,
                SENTINEL_PK - 1,
            )
        else:
            _PAGES[key] = CompiledQuery(lambda user: _list_page(user, role, size, None), SENTINEL_PK)
    return _PAGES[key]


def _list_milestones(queryset: QuerySet[Milestone]) -> Any:
    from .api.provider.base import MILESTONE_COLUMNS  # imported late: the API imports this module

    return queryset.order_by("escrow_id", "index").values(
        *MILESTONE_COLUMNS, payee_customer_id=_customer_id_of("payee_id")
    )


# The milestones of the page's escrows, one statement for any number of them (`= ANY` of an
# array): an IN list per count made a prepared statement per page size, up to 51 per
# connection, crowding psycopg's cache of 100 prepared statements.
LIST_MILESTONES = CompiledQuery(
    lambda ids: _list_milestones(
        Milestone.objects.extra(where=['"escrows_milestone"."escrow_id" = ANY(%s::bigint[])'], params=[ids])
    ),
    [SENTINEL_PK],
    plain=lambda ids: _list_milestones(Milestone.objects.filter(escrow_id__in=ids)),
)

# -- the API key (escrows/api/common.py's APIKeyAuthentication): every API call looks it up,
# and records its use at most every 30 s (accounts.authentication.LAST_USED_RESOLUTION)

API_KEY_BY_PREFIX = CompiledQuery(
    lambda prefix: APIKey.objects.get_usable_keys().filter(prefix=prefix)[:1], "__api_key_prefix__"
)
# The same lookup with the last-use write in its round trip (a data-modifying WITH runs whether or
# not the SELECT reads it; the SELECT sees the row as it was). set_config(..., true) is SET LOCAL:
# it makes this statement's own transaction commit asynchronously (a lost timestamp after a crash
# is harmless, while a synchronous commit made every call of a rarely used key wait for a second
# fsync), hence autocommit only. Only compiled: the plain form is the lookup, then accounts'
# update of last_used_at.
API_KEY_BY_PREFIX_TOUCHING = CompiledQuery(
    lambda prefix: APIKey.objects.get_usable_keys().filter(prefix=prefix)[:1],
    "__api_key_prefix__",
    prelude="""touched AS (
    UPDATE accounts_apikey SET last_used_at = %s
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
    WHERE prefix = %s AND hashed_key = %s AND NOT revoked
      AND (expiry_date IS NULL OR expiry_date > %s)
      AND (last_used_at IS NULL OR last_used_at < %s)
      AND EXISTS (
          SELECT 1 FROM accounts_user
          WHERE accounts_user.id = accounts_apikey.user_id AND accounts_user.is_active
      )
)""",
)


def can_touch_in_lookup() -> bool:
    """The touching lookup runs compiled, and in autocommit only (see above)."""
    return hot() and not connections["default"].in_atomic_block
