"""One FilterSet for escrow lists, shared by the dashboard and (later) the API list views.
It narrows a queryset that a selector has already scoped to the viewer."""

import django_filters
from django.db.models import Q, QuerySet

from .models import Escrow, EscrowStatus
from .selectors import under_dispute


class EscrowFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=EscrowStatus.choices, empty_label="All statuses", method="by_status"
    )
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Escrow
        fields = ["status", "q"]

    def by_status(self, queryset: QuerySet[Escrow], name: str, value: str) -> QuerySet[Escrow]:
        """Statuses as the list shows them: an escrow with a stage under dispute is Disputed,
        not Opened, though only that stage is frozen."""
        if value == EscrowStatus.DISPUTED:
            return queryset.filter(under_dispute())
        if value == EscrowStatus.OPENED:
            return queryset.filter(status=value).exclude(under_dispute())
        return queryset.filter(status=value)

    def search(self, queryset: QuerySet[Escrow], name: str, value: str) -> QuerySet[Escrow]:
        value = value.strip()[:200]
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(public_id__iexact=value)
            | Q(description__icontains=value)
            | Q(buyer_email__icontains=value)
            | Q(buyer__email__icontains=value)
            | Q(seller__email__icontains=value)
        )
