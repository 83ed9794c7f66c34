"""The only write path of the product. Each public service is one durable transaction that
locks the escrow row, checks who may act, runs the FSM transition, posts ledger and event rows,
and enqueues side effects on commit. The API, the HTML views, admin and Celery all call these.

One module per domain; `_internal` holds what they share (the lock, events, settling a
milestone, scheduling a payout). Callers import from here: `from escrows import services`."""

from .cancellations import (
    cancellation_accept,
    cancellation_decline,
    cancellation_propose,
    cancellation_withdraw,
    escrow_cancel,
    escrow_expire,
)
from .disputes import (
    DISPUTE_TEXT_MAX,
    EVIDENCE_CONTENT_TYPES,
    EvidenceInput,
    dispute_add_evidence,
    dispute_answer,
    dispute_apply_default,
    dispute_open,
    dispute_resolution_amounts,
    dispute_resolve,
    dispute_withdraw,
    disputes_due,
)
from .escrows import EscrowTerms, MilestoneInput, escrow_create, escrow_edit, milestone_add
from .fees import FeeQuote, QuoteMilestone, fee_quote, fee_shares
from .funding import escrow_fund, wallet_topup
from .milestones import (
    escrow_confirm_delivery,
    milestone_auto_release,
    milestone_complete,
    milestone_confirm,
    milestone_release,
)
from .refunds import (
    REASON_MAX,
    escrow_refund,
    escrow_refund_milestones,
    milestone_refund,
    refund_request_accept,
    refund_request_create,
    refund_request_decline,
    refund_request_withdraw,
)
from .review_clock import (
    milestone_review_extend,
    milestone_review_remind,
    review_deadline_of,
    review_reminder_due,
)
from .settlements import (
    SETTLEMENT_MAX_ATTEMPTS,
    SettlementOutcome,
    settlement_backoff,
    settlement_give_up_stuck,
    settlement_max_attempts,
    settlement_process,
    settlement_retry,
    wallet_withdraw,
)

__all__ = [
    "DISPUTE_TEXT_MAX",
    "EVIDENCE_CONTENT_TYPES",
    "REASON_MAX",
    "SETTLEMENT_MAX_ATTEMPTS",
    "EscrowTerms",
    "EvidenceInput",
    "FeeQuote",
    "MilestoneInput",
    "QuoteMilestone",
    "SettlementOutcome",
    "cancellation_accept",
    "cancellation_decline",
    "cancellation_propose",
    "cancellation_withdraw",
    "dispute_add_evidence",
    "dispute_answer",
    "dispute_apply_default",
    "dispute_open",
    "dispute_resolution_amounts",
    "dispute_resolve",
    "dispute_withdraw",
    "disputes_due",
    "escrow_cancel",
    "escrow_confirm_delivery",
    "escrow_create",
    "escrow_edit",
    "escrow_expire",
    "escrow_fund",
    "escrow_refund",
    "escrow_refund_milestones",
    "fee_quote",
    "fee_shares",
    "milestone_add",
    "milestone_auto_release",
    "milestone_complete",
    "milestone_confirm",
    "milestone_refund",
    "milestone_release",
    "milestone_review_extend",
    "milestone_review_remind",
    "refund_request_accept",
    "refund_request_create",
    "refund_request_decline",
    "refund_request_withdraw",
    "review_deadline_of",
    "review_reminder_due",
    "settlement_backoff",
    "settlement_give_up_stuck",
    "settlement_max_attempts",
    "settlement_process",
    "settlement_retry",
    "wallet_topup",
    "wallet_withdraw",
]
