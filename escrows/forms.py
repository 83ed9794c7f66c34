"""HTML forms. They only shape input: every business rule (sums, minimums, who may act) is
checked by the service the view calls, and its EscrowError is shown on the matching field."""

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.forms import BaseFormSet, formset_factory
from django.utils import timezone

from accounts.forms import NoColonLabels
from core.errors import EscrowError, InvalidRequest

from . import services
from .models import CHANGES_NOTE_MAX, DisputeAnswer, DisputeOutcome, Escrow, FundingSource, Milestone
from .models.payments import funding_source_label
from .money import format_minor, to_minor
from .services import EscrowTerms, EvidenceInput, MilestoneInput


def currency_choices() -> list[tuple[str, str]]:
    return [(c, c) for c in sorted(settings.ESCROW_CURRENCIES)]


class MoneyInput(forms.TextInput):
    """A decimal string field: no float widget, no browser rounding."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00", **(attrs or {})}
        )


class DateInput(forms.DateInput):
    input_type = "date"


DATE_ERROR = "Enter a date as year-month-day, for example 2026-12-31."


class EscrowForm(NoColonLabels, forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    buyer_email = forms.EmailField(
        required=False,
        label="Buyer email",
        help_text="Optional. Leave empty and share the payment link with whoever will pay.",
    )
    currency = forms.ChoiceField(choices=currency_choices)
    amount = forms.CharField(
        max_length=40,
        widget=MoneyInput(),
        label="Total amount",
        help_text="What the buyer pays you, before the fee.",
    )
    # Digits as typed: whether they make a period the buyer may have is the service's rule.
    inspection_days = forms.CharField(
        required=False,
        label="Inspection period (days)",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.ESCROW_DEFAULT_CURRENCY
        days = self.fields["inspection_days"]
        days.initial = settings.ESCROW_INSPECTION_PERIOD.days
        days.help_text = (
            "How long the buyer has to check each stage you mark delivered. If they neither confirm "
            "nor dispute it by then, it is paid to you automatically. From "
            f"{settings.ESCROW_INSPECTION_DAYS_MIN} to {settings.ESCROW_INSPECTION_DAYS_MAX} days; "
            "it cannot change once the buyer has paid."
        )

    @classmethod
    def initial_for(cls, escrow: Escrow) -> dict[str, Any]:
        return {
            "title": escrow.title,
            "description": escrow.description,
            "buyer_email": escrow.buyer.email if escrow.buyer else escrow.buyer_email,
            "currency": escrow.currency,
            "amount": format_minor(escrow.amount, escrow.currency),
            "inspection_days": escrow.inspection_days,
        }


class MilestoneForm(NoColonLabels, forms.Form):
    title = forms.CharField(max_length=200, required=False)
    amount = forms.CharField(max_length=40, widget=MoneyInput(attrs={"data-milestone-amount": ""}))
    # A day: due by its end (services.due_date_from_day); whether it lies ahead is the service's rule.
    due_date = forms.DateField(
        label="Due by (optional)", required=False, widget=DateInput(), error_messages={"invalid": DATE_ERROR}
    )

    @classmethod
    def initial_for(cls, milestone: Milestone, currency: str) -> dict[str, Any]:
        due = timezone.localtime(milestone.due_date).date() if milestone.due_date else None
        return {"title": milestone.title, "amount": format_minor(milestone.amount, currency), "due_date": due}


class BaseMilestoneFormSet(BaseFormSet):
    def rows(self) -> list[dict[str, Any]]:
        """The kept rows (deleted and blank extra rows dropped), in page order."""
        return [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("amount")
        ]


# formset_factory makes a subclass of `formset`; its stub returns the plain BaseFormSet.
MilestoneFormSet = cast(
    type[BaseMilestoneFormSet],
    formset_factory(
        MilestoneForm, formset=BaseMilestoneFormSet, extra=0, min_num=2, validate_min=False, can_delete=True
    ),
)

# Where each service error field belongs on the page.
FIELD_FOR_ERROR = {
    "buyerEmail": "buyer_email",
    "buyer": "buyer_email",
    "inspectionPeriodDays": "inspection_days",
}


def stage_amount(raw: object, currency: str, index: int) -> int:
    """One stage's amount as typed; a refusal names the stage as the form does ("Stage 2 amount")."""
    try:
        return to_minor(raw, currency, field=f"milestones[{index}].amount")
    except EscrowError as exc:
        raise InvalidRequest(
            exc.message, field="milestones", for_person=f"Stage {index + 1} amount: {exc.for_person}"
        ) from None


def terms_from_forms(
    form: EscrowForm, formset: BaseMilestoneFormSet
) -> tuple[EscrowTerms, list[MilestoneInput]]:
    """Turn cleaned form data into service inputs. Amount parsing errors are EscrowErrors tagged
    with the field they belong to; the page shows their `for_person` words."""
    data = form.cleaned_data
    currency = data["currency"]
    amount = to_minor(data["amount"], currency, field="amount", escrow_total=True)
    milestones = []
    for i, row in enumerate(formset.rows()):
        minor = stage_amount(row["amount"], currency, i)
        milestones.append(
            MilestoneInput(
                amount=minor,
                title=row.get("title") or f"Stage {i + 1}",
                due_date=services.due_date_from_day(row.get("due_date")),
            )
        )
    # A form without the field (a post made before it existed) keeps the default or, on an edit,
    # the escrow's period; a field left empty is refused like any other period that is none.
    sent = form.add_prefix("inspection_days") in form.data
    inspection_period = (
        services.inspection_period_from_days(data.get("inspection_days") or "") if sent else None
    )
    terms = EscrowTerms(
        title=data["title"],
        description=data.get("description") or "",
        currency=currency,
        amount=amount,
        buyer_email=data.get("buyer_email") or "",
        inspection_period=inspection_period,
    )
    return terms, milestones


def attach_error(form: EscrowForm, formset: BaseMilestoneFormSet, exc: EscrowError) -> None:
    field = FIELD_FOR_ERROR.get(exc.field or "", exc.field)
    if field == "milestones":
        # Django has no public way to add an error above the forms after validation.
        formset._non_form_errors = formset.error_class([exc.for_person], error_class="nonform")  # type: ignore[attr-defined]
    elif field in form.fields:
        form.add_error(field, exc.for_person)
    else:
        form.add_error(None, exc.for_person)


class FundForm(NoColonLabels, forms.Form):
    source = forms.ChoiceField(
        choices=FundingSource.choices,
        widget=forms.RadioSelect,
        initial=FundingSource.WALLET,
        label="Pay with",
    )
    card_token = forms.CharField(
        max_length=100,
        required=False,
        label="Test card token",
        help_text="Test mode: tok_visa succeeds, tok_decline is declined.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "tok_visa"}),
    )
    # The terms version the page showed: a payment against terms changed since is refused.
    terms_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A card reads as the mock gateway's test card only while cards do not go through Stripe.
        source = cast(forms.ChoiceField, self.fields["source"])
        source.choices = [(s.value, funding_source_label(s.value)) for s in FundingSource]


class DeliverForm(NoColonLabels, forms.Form):
    proof = forms.CharField(
        label="What did you deliver?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="The buyer sees this when confirming the stage.",
    )
    proof_uri = forms.URLField(label="Link to the work (optional)", required=False, max_length=2000)


class RequestChangesForm(NoColonLabels, forms.Form):
    # Whether the note is there and short enough is the service's rule (Milestone.changes_request_refusal);
    # the browser's maxlength only saves typing what would be refused.
    note = forms.CharField(
        label="What needs to change?",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": CHANGES_NOTE_MAX}),
        help_text="The seller reads this and delivers the stage again. Nothing is paid or refunded.",
    )


class TopupForm(NoColonLabels, forms.Form):
    currency = forms.ChoiceField(choices=currency_choices)
    amount = forms.CharField(max_length=40, widget=MoneyInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.ESCROW_DEFAULT_CURRENCY


class WithdrawForm(TopupForm):
    destination = forms.CharField(
        max_length=200, help_text="Account or wallet to pay out to (test off-ramp).", label="Destination"
    )


class StatementPeriodForm(NoColonLabels, forms.Form):
    """The balance statement's period (both days included) and order."""

    date_from = forms.DateField(
        label="From", required=False, widget=DateInput(), error_messages={"invalid": DATE_ERROR}
    )
    date_to = forms.DateField(
        label="To", required=False, widget=DateInput(), error_messages={"invalid": DATE_ERROR}
    )
    order = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[("newest", "Newest first"), ("oldest", "Oldest first")],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", f"The end date must be on or after the start date ({start:%-d %b %Y}).")
        return data


# -- refunds and mutual cancellation ----------------------------------------------------------


def _milestone_choices(milestones: Any, currency: str) -> list[tuple[str, str]]:
    def label(m: Milestone) -> str:
        title = f" · {m.title}" if m.title else ""
        left = f"{format_minor(m.remaining_amount, currency)} {currency}"
        if m.partly_released:
            left += f" (left of {format_minor(m.amount, currency)} {currency})"
        return f"Stage {m.index + 1}{title} · {left}"

    return [(m.public_id, label(m)) for m in milestones]


class MilestoneRefundForm(NoColonLabels, forms.Form):
    """The seller picks milestones to refund; the view shows a confirmation before the refund."""

    milestones = forms.MultipleChoiceField(
        label="Milestones to refund", widget=forms.CheckboxSelectMultiple, choices=()
    )
    reason = forms.CharField(
        label="Note to the buyer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, milestones: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["milestones"]).choices = _milestone_choices(
            milestones, currency
        )


class RefundRequestForm(NoColonLabels, forms.Form):
    milestones = forms.MultipleChoiceField(
        label="Milestones you want refunded",
        widget=forms.CheckboxSelectMultiple,
        choices=(),
        required=False,
        help_text="Leave all unticked to ask for everything not yet released.",
    )
    reason = forms.CharField(
        label="Why are you asking for a refund?", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, milestones: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if milestones:
            cast(forms.MultipleChoiceField, self.fields["milestones"]).choices = _milestone_choices(
                milestones, currency
            )
        else:
            del self.fields["milestones"]


class DeclineForm(NoColonLabels, forms.Form):
    reason = forms.CharField(label="Reason", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class CancellationForm(NoColonLabels, forms.Form):
    buyer_amount = forms.CharField(label="Back to the buyer", max_length=40, widget=MoneyInput())
    seller_amount = forms.CharField(label="To the seller", max_length=40, widget=MoneyInput())
    note = forms.CharField(
        label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def amounts(self) -> tuple[int, int]:
        """Both amounts in minor units; an EscrowError names the field that is wrong."""
        return (
            to_minor(self.cleaned_data["buyer_amount"], self.currency, field="buyer_amount", allow_zero=True),
            to_minor(
                self.cleaned_data["seller_amount"], self.currency, field="seller_amount", allow_zero=True
            ),
        )


# -- disputes ---------------------------------------------------------------------------------


class EvidenceFields(NoColonLabels, forms.Form):
    evidence_text = forms.CharField(
        label="Evidence", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, required=False
    )
    evidence_url = forms.URLField(
        label="Link (optional)", max_length=2000, required=False, assume_scheme="https"
    )
    evidence_file = forms.FileField(
        label="File (optional)",
        required=False,
        help_text="PDF, image, text, CSV or ZIP, at most 5 MB. Its SHA-256 fingerprint is recorded.",
    )

    def evidence(self) -> EvidenceInput:
        data = self.cleaned_data
        return EvidenceInput(
            text=data.get("evidence_text") or "",
            url=data.get("evidence_url") or "",
            file=data.get("evidence_file"),
        )


class DisputeOpenForm(EvidenceFields):
    milestone = forms.CharField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="What went wrong?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="Only the disputed amount is frozen while an administrator looks into it.",
    )
    default_outcome = forms.ChoiceField(
        label="If nobody resolves it by the deadline",
        choices=DisputeOutcome.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    default_seller_amount = forms.CharField(label="Seller gets", required=False, widget=MoneyInput())
    default_buyer_amount = forms.CharField(label="Buyer gets", required=False, widget=MoneyInput())


class AnswerForm(NoColonLabels, forms.Form):
    answer = forms.ChoiceField(choices=DisputeAnswer.choices, widget=forms.RadioSelect)
    text = forms.CharField(
        label="Your answer", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, required=False
    )


class ResolveForm(NoColonLabels, forms.Form):
    outcome = forms.ChoiceField(choices=DisputeOutcome.choices, widget=forms.RadioSelect)
    seller_amount = forms.CharField(label="Seller gets (split)", required=False, widget=MoneyInput())
    buyer_amount = forms.CharField(label="Buyer gets (split)", required=False, widget=MoneyInput())
    note = forms.CharField(
        label="Note to both parties", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


# -- partial release --------------------------------------------------------------------------


class ReleasePartForm(NoColonLabels, forms.Form):
    """How much of a stage the buyer releases now; whether that amount may go is the service's rule
    (services.milestone_release_part_check)."""

    amount = forms.CharField(
        label="Amount to release",
        max_length=40,
        widget=MoneyInput(),
        error_messages={"required": "Amount to release: enter how much goes to the seller now."},
    )
    # What was left of the stage when the buyer confirmed (the confirmation's hidden field).
    remaining = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


# -- change orders ------------------------------------------------------------------------------


class ChangeOrderForm(NoColonLabels, forms.Form):
    """A proposed change: each stage still to come as it stands (change its amount, title,
    description or due date, or remove it) and empty rows for new stages after the last. What
    differs from the stage as it is becomes a change; the service checks each one."""

    NEW_ROWS = 2

    note = forms.CharField(
        label="Note to the other party (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    pay_source = forms.ChoiceField(
        label="If the total goes up, pay the increase with",
        choices=FundingSource.choices,
        widget=forms.RadioSelect,
        initial=FundingSource.WALLET,
        required=False,
    )
    card_token = forms.CharField(
        max_length=100,
        required=False,
        label="Test card token",
        help_text="Test mode: tok_visa succeeds, tok_decline is declined.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "tok_visa"}),
    )

    def __init__(
        self, *args: Any, escrow: Escrow, stages: Sequence[Milestone], role: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.escrow, self.stages, self.role = escrow, list(stages), role
        if role != "buyer":
            del self.fields["pay_source"], self.fields["card_token"]
        currency = escrow.currency
        for m in self.stages:
            n = m.index + 1
            initial = MilestoneForm.initial_for(m, currency)
            self.fields[f"{m.public_id}-amount"] = forms.CharField(
                label=f"Stage {n} amount", max_length=40, widget=MoneyInput(), initial=initial["amount"]
            )
            self.fields[f"{m.public_id}-title"] = forms.CharField(
                label=f"Stage {n} title", max_length=200, required=False, initial=m.title
            )
            self.fields[f"{m.public_id}-description"] = forms.CharField(
                label=f"Stage {n} description",
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=m.description,
            )
            self.fields[f"{m.public_id}-due"] = forms.DateField(
                label=f"Stage {n} due by (optional)",
                required=False,
                widget=DateInput(),
                initial=initial["due_date"],
                error_messages={"invalid": DATE_ERROR},
            )
            self.fields[f"{m.public_id}-remove"] = forms.BooleanField(
                label=f"Remove stage {n}", required=False
            )
        for k in range(self.NEW_ROWS):
            self.fields[f"new{k}-title"] = forms.CharField(label="Title", max_length=200, required=False)
            self.fields[f"new{k}-description"] = forms.CharField(
                label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
            )
            self.fields[f"new{k}-amount"] = forms.CharField(
                label="Amount", max_length=40, required=False, widget=MoneyInput()
            )
            self.fields[f"new{k}-due"] = forms.DateField(
                label="Due by (optional)",
                required=False,
                widget=DateInput(),
                error_messages={"invalid": DATE_ERROR},
            )

    def stage_rows(self) -> list[dict[str, Any]]:
        """Each stage's fields, for the template: the stage and its bound fields."""
        return [
            {
                "stage": m,
                "amount": self[f"{m.public_id}-amount"],
                "title": self[f"{m.public_id}-title"],
                "description": self[f"{m.public_id}-description"],
                "due": self[f"{m.public_id}-due"],
                "remove": self[f"{m.public_id}-remove"],
            }
            for m in self.stages
        ]

    def new_rows(self) -> list[dict[str, Any]]:
        return [
            {name: self[f"new{k}-{name}"] for name in ("title", "description", "amount", "due")}
            for k in range(self.NEW_ROWS)
        ]

    def _amount(self, name: str, label: str) -> int:
        try:
            return to_minor(self.cleaned_data[name], self.escrow.currency, field=name)
        except EscrowError as exc:
            raise InvalidRequest(exc.message, field=name, for_person=f"{label}: {exc.for_person}") from None

    def changes(self) -> list[services.StageChange]:
        """The changes the form asks for: what differs from each stage, the stages to remove and
        the new rows filled in. A bad amount is an EscrowError naming its field."""
        data = self.cleaned_data
        changes: list[services.StageChange] = []
        for m in self.stages:
            key, n = m.public_id, m.index + 1
            if data.get(f"{key}-remove"):
                changes.append(services.StageRemove(milestone=key))
                continue
            amount = self._amount(f"{key}-amount", f"Stage {n} amount")
            title = (data.get(f"{key}-title") or "").strip()
            description = (data.get(f"{key}-description") or "").strip()
            day = data.get(f"{key}-due")
            now_day = timezone.localtime(m.due_date).date() if m.due_date else None
            edit = services.StageEdit(
                milestone=key,
                amount=amount if amount != m.amount else None,
                title=title if title != m.title else None,
                description=description if description != m.description.strip() else None,
                due_date=services.due_date_from_day(day) if day and day != now_day else None,
                clear_due_date=day is None and now_day is not None,
            )
            if (
                any((edit.amount is not None, edit.title is not None, edit.description is not None))
                or edit.due_date is not None
                or edit.clear_due_date
            ):
                changes.append(edit)
        for k in range(self.NEW_ROWS):
            raw = (data.get(f"new{k}-amount") or "").strip()
            title = (data.get(f"new{k}-title") or "").strip()
            if not raw and not title and not data.get(f"new{k}-description") and not data.get(f"new{k}-due"):
                continue
            changes.append(
                services.StageAdd(
                    amount=self._amount(f"new{k}-amount", "New stage amount"),
                    title=title,
                    description=(data.get(f"new{k}-description") or "").strip(),
                    due_date=services.due_date_from_day(data.get(f"new{k}-due")),
                )
            )
        return changes

    def carried(self) -> tuple[tuple[str, str], ...]:
        """What was typed, as the review step's hidden fields (sent back to propose or edit)."""
        out = []
        for name, field in self.fields.items():
            value = self.data.get(self.add_prefix(name))
            if isinstance(field, forms.BooleanField):
                if value:
                    out.append((name, "on"))
            elif value not in (None, ""):
                out.append((name, str(value)))
        return tuple(out)
