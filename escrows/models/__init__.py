"""Escrow domain models, one module per domain. @transition methods only move the status of one
row in memory; every write that matters (locks, ledger, events, side effects) lives in
escrows/services/."""

from .agreements import (  # noqa: F401
    ChangeProposal,
    ChangeProposalStatus,
    TermsReason,
    TermsVersion,
    new_change_proposal_id,
)
from .conditional_payments import DeliveryProof, new_delivery_proof_id  # noqa: F401
from .connect import StripeAccount, StripeTransfer  # noqa: F401
from .disputes import (  # noqa: F401
    ACTIVE_DISPUTE_STATUSES,
    UNANSWERED_DISPUTE_STATUSES,
    Dispute,
    DisputeAnswer,
    DisputeEvidence,
    DisputeOutcome,
    DisputeStatus,
    new_dispute_id,
    new_evidence_id,
)
from .escrows import (  # noqa: F401
    CHANGES_NOTE_MAX,
    CHARGEBACK_FREEZE_WORDS,
    CLOSED_STATUSES,
    DELIVERY_TIMELINE_UNITS,
    INVITATION_EVENT_KINDS,
    INVITATION_RESEND_INTERVAL,
    INVITATION_RESENDS_MAX,
    SETTLED_MILESTONE_STATUSES,
    Escrow,
    EscrowStatus,
    Milestone,
    MilestoneStatus,
    ReleaseType,
    SettlementMethod,
    SettlementType,
    WhoPays,
    new_escrow_id,
    new_event_id,
    new_milestone_id,
    new_payment_id,
    new_payment_token,
    new_settlement_id,
    random_id,
)
from .events import (  # noqa: F401
    ActorKind,
    Event,
)
from .images import EscrowImage, new_image_id  # noqa: F401
from .ledger import (  # noqa: F401
    EXTERNAL_KINDS,
    PART_RELEASE_MEMO,
    REST_RELEASE_MEMO,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    MockOffRampPayout,
    TransactionKind,
)
from .payments import (  # noqa: F401
    CardPayment,
    CardPaymentStatus,
    FundingSource,
    Payment,
    Settlement,
    SettlementStatus,
    StripeEvent,
)
from .refunds import (  # noqa: F401
    CancellationProposal,
    CancellationStatus,
    RefundRequest,
    RefundRequestStatus,
    new_cancellation_id,
    new_refund_request_id,
)
from .stripe_refunds import (  # noqa: F401
    ChargebackStatus,
    StripeChargeback,
    StripeRefund,
    StripeRefundPurpose,
    StripeRefundStatus,
    new_stripe_refund_id,
)
