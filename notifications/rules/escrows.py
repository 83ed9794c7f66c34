"""Notices of an escrow's life: invitation, payment, expiry, delivery, review, release and closing."""

from django.urls import reverse

from escrows.models import ReleaseType
from escrows.money import format_money

from ..models import Category
from .story import Notice, _parse, _quoted, _Story, when

# -- invitations, payment, expiry ----------------------------------------------------------


def _invited(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    address = s.details.get("buyerEmail") if s.event.kind != "escrow.created" else None
    reader = s.buyer(address if isinstance(address, str) else None)
    if reader is None or s.is_actor(reader):
        return []
    total = format_money(escrow.amount + escrow.fee, escrow.currency)
    return s.notice(
        reader,
        Category.ACCOUNT,
        f"{s.seller_name} asks you to pay {s.money(escrow.amount)} for {s.title}",
        f"{s.seller_name} created the escrow {s.title} and named you as the buyer.\n\n"
        f"You pay {s.money(escrow.amount)} plus a fee of {s.money(escrow.fee)} ({total} in all). "
        f"The money is held in escrow and reaches {s.seller_name} only as you release each stage.\n\n"
        f"Pay by {when(escrow.expires_at)}; after that the escrow expires unpaid.",
        url=reverse("pay", args=[escrow.payment_token]),
        action="Review and pay",
        required=True,
    )


def _invitation_after_edit(s: _Story) -> list[Notice]:
    # Only an edit that named a new buyer address invites that address.
    if not s.details.get("buyerEmail") or s.details.get("buyerEmail") == s.details.get("buyerEmailBefore"):
        return []
    if "buyerEmailBefore" not in s.details:
        return []
    return _invited(s)


def _funded(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    first = "the first stage" if escrow.is_milestone else "the work"
    return s.notice(
        s.seller,
        Category.MONEY,
        f"{s.title} is paid: {s.money(escrow.amount)} is held, start work",
        f"{s.buyer_name} paid {s.money(escrow.amount)} into escrow for {s.title}. The money is held "
        f"until they release it{' stage by stage' if escrow.is_milestone else ''}.\n\n"
        f"Start on {first} and mark it delivered when it is done.",
        url=s.escrow_url("stage-1") if escrow.is_milestone else s.escrow_url(),
        action="Open the escrow",
        required=True,
    )


def _card_declined(s: _Story) -> list[Notice]:
    """The payer's card was refused at the card network: nothing was paid, and why, in the
    network's words."""
    escrow = s.escrow
    assert escrow is not None
    reason = str(s.details.get("reason") or "Your card was declined.")
    return s.notice(
        s.customer,
        Category.MONEY,
        f"Your card payment for {s.title} did not go through",
        f"Your card payment of {s.money(escrow.amount + escrow.fee)} for {s.title} was declined: "
        f"{reason}\n\nNothing was paid and the escrow is still waiting for payment. "
        "You can try again with another card.",
        url=s.buyer_url(),
        action="Pay again",
        required=True,
    )


def _expiry_reminder(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    deadline = when(_parse(s.details.get("expiresAt")) or escrow.expires_at)
    buyer = s.buyer()
    return s.notice(
        buyer,
        Category.REMINDERS,
        f"Pay for {s.title} by {deadline}, or it expires",
        f"{s.seller_name} is waiting for your payment of {s.money(escrow.amount)} for {s.title}.\n\n"
        f"Unless it is paid by {deadline}, the escrow expires and is cancelled.",
        url=s.buyer_url(),
        action="Review and pay",
        required=True,
    ) + s.notice(
        s.seller,
        Category.REMINDERS,
        f"{s.title} expires unpaid on {deadline}",
        f"{s.buyer_name if buyer else 'Nobody'} has not paid {s.money(escrow.amount)} for {s.title} yet.\n\n"
        f"Unless it is paid by {deadline}, the escrow expires and is cancelled. You can send the "
        "buyer the payment link again from the escrow page.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _cancelled(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    reason = s.details.get("reason")
    if reason == "mutual cancellation":
        return []  # told by cancellation.accepted
    buyer = s.buyer()
    if reason == "expired":
        return s.notice(
            s.seller,
            Category.ACCOUNT,
            f"{s.title} expired unpaid",
            f"Nobody paid for {s.title} by {when(escrow.expires_at)}, so it was cancelled. Nothing was "
            "charged. Create a new escrow if the deal still stands.",
            url=s.escrow_url(),
            action="Open the escrow",
        ) + s.notice(
            buyer,
            Category.ACCOUNT,
            f"{s.title} expired unpaid",
            f"{s.title} from {s.seller_name} was not paid by {when(escrow.expires_at)} and has been "
            "cancelled. Nothing was charged.",
            url=s.buyer_url(),
            action="See the escrow",
        )
    notices: list[Notice] = []
    for reader in (s.seller, buyer):
        if reader is None or s.is_actor(reader):
            continue
        notices += s.notice(
            reader,
            Category.ACCOUNT,
            f"{s.title} was cancelled",
            f"{s.actor_name} cancelled {s.title} before it was paid. Nothing was charged.",
            url=s.escrow_url() if reader == s.seller else s.buyer_url(),
            action="See the escrow",
        )
    return notices


# -- delivery, review, release -------------------------------------------------------------


def _delivered(s: _Story) -> list[Notice]:
    escrow, m = s.escrow, s.milestone
    assert escrow is not None
    amount = s.money(m.remaining_amount if m is not None else escrow.amount)
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    proof = (s.details.get("proof") or "").strip()
    said = f"\n\nTheir note: {proof}" if proof else ""
    if escrow.auto_release_on_proof:
        return s.notice(
            s.buyer(),
            Category.REQUESTS,
            f"{s.stage} delivered on {s.title}",
            f"{s.seller_name} marked {s.stage_named} of {s.title} delivered.{said}\n\n"
            f"Under this escrow's terms a delivered stage is released to {payee} ({amount}) on delivery.",
            url=s.stage_url if escrow.buyer_id else s.buyer_url(),
            action="See the stage",
        )
    deadline = _parse(s.details.get("reviewDeadline")) or (m.review_ends_at if m is not None else None)
    if escrow.funded_at is None:
        review = (
            f"Once you have paid, you have {escrow.inspection_period.days} days to review it; unless you "
            f"release it or open a dispute by then, {amount} is released to {payee} automatically."
        )
        subject = f"{s.stage} delivered on {s.title}: review it once paid"
    else:
        review = (
            f"Review it by {when(deadline)}: release it if it is right, or open a dispute if it is not. "
            f"Unless you do one or the other, {amount} is released to {payee} automatically on "
            f"{when(deadline)}."
        )
        subject = f"{s.stage} delivered on {s.title}: review by {when(deadline)}"
    return s.notice(
        s.buyer(),
        Category.REQUESTS,
        subject,
        f"{s.seller_name} marked {s.stage_named} of {s.title} delivered ({amount}).{said}\n\n{review}",
        url=s.stage_url if escrow.buyer_id else s.buyer_url(),
        action="Review the stage",
        required=True,
    )


def _delivery_proof_submitted(s: _Story) -> list[Notice]:
    """A proof of delivery of a standard escrow: the buyer hears what was proven and when the
    money goes. A milestone escrow's proof marks its stage delivered, told as that delivery."""
    escrow = s.escrow
    assert escrow is not None
    if escrow.is_milestone or s.milestone is not None:
        return []
    d = s.details
    amount = s.money(escrow.amount)
    proof = f"Proof: {d.get('proofHash') or 'not given'}"
    if d.get("proofUri"):
        proof += f", at {d['proofUri']}"
    if d.get("submittedBy"):
        proof += f". Submitted by {d['submittedBy']}"
    required = False
    if escrow.frozen_by_chargeback:
        # The release on the proof (or at the time lock) refuses while the bank decides.
        then = (
            f"{amount} stays held: your card payment for it is being disputed with your bank (a "
            "chargeback), so it can be neither released nor refunded until the bank decides."
        )
    elif escrow.auto_release_on_proof:
        then = f"Under this escrow's terms {amount} is released to {s.seller_name} on the proof of delivery."
    elif escrow.release_type == ReleaseType.TIME_LOCKED:
        lock = escrow.time_lock_until
        if lock is not None and lock <= s.event.created_at:
            then = (
                f"The escrow's time lock ended on {when(lock)}, so {amount} is released to "
                f"{s.seller_name} now."
            )
        else:
            then = (
                f"{amount} is released to {s.seller_name} on {when(lock)}, when the escrow's time lock "
                "ends, unless you open a dispute before then."
            )
            required = True
    else:
        then = (
            f"Confirm the delivery to release {amount} to {s.seller_name}, or open a dispute if it "
            "is not right."
        )
        ends = escrow.delivery_window_ends_at
        if ends is not None:
            then += f" Once the delivery window ends on {when(ends)}, {s.seller_name} can claim the money."
        required = True
    return s.notice(
        s.buyer(),
        Category.REQUESTS,
        f"{s.seller_name} proved delivery of {s.title}",
        f"{s.seller_name} submitted a proof of delivery for {s.title} ({amount}).\n\n{proof}.\n\n{then}",
        url=s.escrow_url(),
        action="Review the delivery",
        required=required,
    )


def _review_reminder(s: _Story) -> list[Notice]:
    m = s.milestone
    assert m is not None
    deadline = when(_parse(s.details.get("reviewDeadline")) or m.review_ends_at)
    named = _quoted(m.title) if (m.title or "").strip() else f"“{s.stage}”"
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    return s.notice(
        s.customer or s.buyer(),
        Category.REMINDERS,
        f"Review {named} by {deadline}: it releases automatically",
        f"{s.seller_name} marked {named} of {s.title} delivered.\n\n"
        f"Unless you confirm or dispute it, {s.money(m.remaining_amount)} is released to {payee} "
        f"automatically on {deadline}.",
        url=s.stage_url,
        action="Review the stage",
        required=True,
    )


def _due_words(s: _Story) -> tuple[str, str]:
    """The stage's due date and amount in words, as the event recorded them."""
    m = s.milestone
    assert m is not None
    due = when(_parse(s.details.get("dueDate")) or m.due_date)
    return due, s.money(s.details.get("amount", m.amount))


def _due_reminder(s: _Story) -> list[Notice]:
    due, amount = _due_words(s)
    return s.notice(
        s.seller,
        Category.REMINDERS,
        f"{s.stage} of {s.title} is due by {due}",
        f"{s.stage_named} of {s.title} ({amount}) is due by {due} and is not marked delivered yet.\n\n"
        f"Mark it delivered once it is done; {s.buyer_name} then reviews it and releases the money.",
        url=s.stage_url,
        action="Open the stage",
        required=True,
    )


def _overdue(s: _Story) -> list[Notice]:
    due, amount = _due_words(s)
    subject = f"{s.stage} of {s.title} is overdue: it was due by {due}"
    return s.notice(
        s.seller,
        Category.REMINDERS,
        subject,
        f"{s.stage_named} of {s.title} ({amount}) was due by {due} and is not marked delivered yet. "
        f"{s.buyer_name} has been told.\n\n"
        "Mark it delivered as soon as it is done. The money stays held in escrow until then.",
        url=s.stage_url,
        action="Open the stage",
        required=True,
    ) + s.notice(
        s.buyer(),
        Category.REMINDERS,
        subject,
        f"{s.seller_name} has not marked {s.stage_named} of {s.title} ({amount}) delivered, and it was "
        f"due by {due}.\n\n"
        "Your money for it stays held in escrow: nothing is paid out for this stage until you "
        "release it. If the work will not come, you can ask for a refund or open a dispute from "
        "the escrow page.",
        url=s.stage_url,
        action="See the stage",
    )


def _review_extended(s: _Story) -> list[Notice]:
    deadline = when(_parse(s.details.get("reviewDeadline")))
    return s.notice(
        s.seller,
        Category.REQUESTS,
        f"{s.buyer_name} took more time to review {s.stage} of {s.title}",
        f"{s.buyer_name} extended the review of {s.stage_named} of {s.title} once. They now have until "
        f"{deadline} to release it or open a dispute; after that it is released automatically.",
        url=s.stage_url,
        action="See the stage",
    )


def _changes_requested(s: _Story) -> list[Notice]:
    m, escrow = s.milestone, s.escrow
    assert m is not None and escrow is not None
    note = str(s.details.get("note") or "")
    round_ = s.details.get("round")
    which = f" (round {round_})" if isinstance(round_, int) else ""
    held = s.details.get("held", m.remaining_amount)
    return s.notice(
        s.seller,
        Category.REQUESTS,
        f"{s.buyer_name} asked for changes to {s.stage} of {s.title}",
        f"{s.buyer_name} sent {s.stage_named} of {s.title} back for changes{which}. Their note:\n\n"
        f"“{note}”\n\n"
        f"The stage is in progress again and its {s.money(held)} stays held; its review period has "
        f"stopped. Make the changes and mark it delivered again: the buyer then has "
        f"{escrow.inspection_period.days} days to review it.",
        url=s.stage_url,
        action="See what to change",
        required=True,
    )


# Reasons a stage settles that another notice already tells the parties about.
_TOLD_ELSEWHERE = ("dispute resolved", "mutual cancellation", "refund request")


def _to_payee(s: _Story) -> list[Notice]:
    """The payee of a stage (someone other than the seller) hears of the money that reaches them,
    however the stage settled; they are told nothing else about the escrow."""
    payee = s.payee
    if payee is None:
        return []
    d = s.details
    amount = d.get("sellerShare", d.get("sellerAmount", d.get("amount")))
    if not amount:
        return []
    return s.notice(
        payee,
        Category.MONEY,
        f"{s.money(amount)} released to you for {s.stage} of {s.title}",
        f"{s.money(amount)} for {s.stage_named} of {s.title} is now in your balance.",
        url=reverse("balance"),
        action="Open your balance",
        on_escrow=False,
    )


def _released(s: _Story) -> list[Notice]:
    escrow, m = s.escrow, s.milestone
    assert escrow is not None
    notices = _to_payee(s)
    reason = str(s.details.get("reason") or "")
    if reason.startswith(_TOLD_ELSEWHERE):
        return notices
    amount = s.money(s.details.get("amount", m.amount if m is not None else escrow.amount))
    to = f"to {s.name(s.payee)}" if s.payee is not None else "to your balance"
    if reason == "inspection period lapsed":
        how = (
            "The review period ended without a release or a dispute, so "
            f"{s.stage_named} was released automatically"
        )
    elif reason == "auto-release on proof":
        how = f"{s.stage_named} was released on delivery, as this escrow's terms say"
    else:
        how = f"{s.actor_name} released {s.stage_named}"
    notices += s.notice(
        s.seller,
        Category.MONEY,
        f"{amount} released for {s.stage} of {s.title}",
        f"{how}: {amount} went {to}.",
        url=s.stage_url,
        action="Open the escrow",
    )
    buyer = s.buyer()
    if not s.is_actor(buyer):
        payee = s.name(s.payee) if s.payee is not None else s.seller_name
        notices += s.notice(
            buyer,
            Category.MONEY,
            f"{s.stage} of {s.title} released: {amount} to {payee}",
            f"{how}: {amount} went to {payee}.",
            url=s.stage_url,
            action="Open the escrow",
        )
    return notices


def _part_released(s: _Story) -> list[Notice]:
    """The buyer released part of a stage: the seller, and the stage's payee when someone else,
    hear how much went where and what stays held."""
    d = s.details
    amount, left = s.money(d.get("amount")), s.money(d.get("remaining"))
    notices: list[Notice] = []
    if s.payee is not None:
        notices += s.notice(
            s.payee,
            Category.MONEY,
            f"{amount} released to you for {s.stage} of {s.title}",
            f"{s.buyer_name} released part of {s.stage_named} of {s.title}: {amount} is now in your "
            f"balance. {left} stays held for the stage until it is released.",
            url=reverse("balance"),
            action="Open your balance",
            on_escrow=False,
        )
    to = f"to {s.name(s.payee)}" if s.payee is not None else "to your balance"
    return notices + s.notice(
        s.seller,
        Category.MONEY,
        f"{amount} released for {s.stage} of {s.title}; {left} still held",
        f"{s.buyer_name} released part of {s.stage_named} of {s.title}: {amount} went {to}. "
        f"{left} stays held for the stage until they release the rest.",
        url=s.stage_url,
        action="Open the escrow",
    )


def _refunded_stage(s: _Story) -> list[Notice]:
    m = s.milestone
    reason = str(s.details.get("reason") or "")
    if reason.startswith(_TOLD_ELSEWHERE) or m is None:
        return []
    amount = s.money(s.details.get("amount", m.amount))
    return s.notice(
        s.buyer(),
        Category.MONEY,
        f"{amount} refunded for {s.stage} of {s.title}",
        f"{s.actor_name} gave back {s.stage_named} of {s.title}: {amount} goes back to "
        f"{s.refund_destination(to_buyer=True)}.",
        url=s.stage_url,
        action="Open the escrow",
    )


def _split_stage(s: _Story) -> list[Notice]:
    # A split comes only from a dispute or a mutual cancellation, each told on its own; only the
    # payee of the stage hears here of their part.
    return _to_payee(s)


def _claimed(s: _Story) -> list[Notice]:
    """The seller took a standard escrow's money once its delivery window passed."""
    escrow = s.escrow
    assert escrow is not None
    amount = s.money(escrow.amount)
    ended = when(escrow.delivery_window_ends_at)
    return s.notice(
        s.buyer(),
        Category.MONEY,
        f"{s.seller_name} claimed {amount} for {s.title}: the delivery window passed",
        f"The delivery window of {s.title} ended on {ended} without you confirming the delivery or "
        f"opening a dispute, so {s.seller_name} claimed the money: {amount} went to {s.seller_name} "
        "and the escrow is complete.",
        url=s.escrow_url(),
        action="Open the escrow",
    ) + s.notice(
        s.seller,
        Category.MONEY,
        f"You claimed {amount} for {s.title}",
        f"The delivery window of {s.title} ended on {ended}, so you claimed the money: {amount} is in "
        "your balance and the escrow is complete.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _time_lock_released(s: _Story) -> list[Notice]:
    """A delivered time-locked escrow released at its time (told once, here; time_lock.released
    tells nobody)."""
    escrow = s.escrow
    assert escrow is not None
    amount = s.money(escrow.amount)
    how = f"The time lock on {s.title} ended on {when(escrow.time_lock_until)} after the delivery was proven"
    return s.notice(
        s.seller,
        Category.MONEY,
        f"{amount} released for {s.title}",
        f"{how}, so {amount} was released to your balance. The escrow is complete.",
        url=s.escrow_url(),
        action="Open the escrow",
    ) + s.notice(
        s.buyer(),
        Category.MONEY,
        f"{s.title} released: {amount} to {s.seller_name}",
        f"{how}, so {amount} was released to {s.seller_name}. The escrow is complete.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _closed(s: _Story, verb: str) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    if verb == "complete" and not escrow.is_milestone:
        reason = s.details.get("reason")
        if reason == "delivery window passed":
            return _claimed(s)
        if reason == "time lock passed":
            return _time_lock_released(s)
    notices: list[Notice] = []
    for reader, to_buyer in ((s.seller, False), (s.buyer(), True)):
        if verb == "complete":
            subject = f"{s.title} is complete"
            body = f"Every stage of {s.title} is settled and the escrow is closed."
        elif s.is_actor(reader):
            continue
        else:
            subject = f"{s.title} was refunded"
            body = (
                f"{s.title} is closed: what it held went back to {s.refund_destination(to_buyer=to_buyer)}."
            )
        notices += s.notice(
            reader, Category.MONEY, subject, body, url=s.escrow_url(), action="Open the escrow"
        )
    return notices
