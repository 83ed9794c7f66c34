"""One FilterSet for escrow lists, shared by the dashboard and (later) the API list views.
It narrows a queryset that a selector has already scoped to the viewer."""

import django_filters
from django.db.models import Q, QuerySet

from .models import Escrow, EscrowStatus


class EscrowFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EscrowStatus.choices, empty_label="All statuses")
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Escrow
        fields = ["status", "q"]

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
