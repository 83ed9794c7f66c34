"""One hierarchy of domain errors. Each has a stable code and a message meant for the user; the
API maps `kind` to a status code and envelope, the HTML views to a flash message.

`message` is the API's documented wording, which may name a request field (`milestones[1].amount`)
or a unit of the wire format ("minor units"). Where it does, the place that raises the error also
says it in a person's words (`for_person`), without the field's name: the page shows it on the
field, or after the field's label. Pages show `for_person`, the APIs `message`."""

from typing import Any


class EscrowError(Exception):
    kind = "invalid_request"  # invalid_request | not_found | forbidden | conflict | payment
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        for_person: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.for_person = for_person or message
        self.field = field
        if code:
            self.code = code


class InvalidRequest(EscrowError):
    """The request breaks a business rule (amounts, order, etc)."""


class InvalidState(EscrowError):
    """The object is not in a state that allows this action."""

    code = "invalid_state"


class NotFound(EscrowError):
    """Does not exist, or is not visible to the actor (never reveal which)."""

    kind = "not_found"
    code = "resource_missing"


class Forbidden(EscrowError):
    """A party to the escrow asked for something only the other party may do."""

    kind = "forbidden"
    code = "forbidden"


class Conflict(EscrowError):
    kind = "conflict"
    code = "conflict"


class TermsChanged(Conflict):
    """The payer was shown other terms than the escrow has now."""

    code = "terms_changed"


class StageChanged(Conflict):
    """A release was confirmed against what was left of a stage then; less is left now."""

    code = "stage_changed"


class InsufficientFunds(EscrowError):
    code = "insufficient_funds"


class PaymentFailed(EscrowError):
    kind = "payment"
    code = "payment_failed"


class TestModeOnly(EscrowError):
    kind = "forbidden"
    code = "test_mode_only"


def page_message(exc: EscrowError, form: Any = None) -> str:
    """The error as a page shows it away from its field (a flash message, the top of a form):
    the person's words, after the field's label when the form has that field."""
    named = form is not None and (exc.field or "") in form.fields
    label = form[exc.field].label if named else None
    return f"{label}: {exc.for_person}" if label else exc.for_person
