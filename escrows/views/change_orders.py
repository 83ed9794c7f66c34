"""Agreed terms and change orders on the escrow page: the history of the terms (who proposed
each version, who agreed and when)."""

from typing import Any

from django.http import HttpRequest

from .. import selectors
from ..agreements import terms_history
from ..models import Escrow


def terms_context(request: HttpRequest, escrow: Escrow) -> dict[str, Any]:
    """What the escrow page shows of its agreed terms: each version, newest first."""
    return {"terms_history": terms_history(escrow, list(selectors.terms_versions_of(escrow)), request.user)}
