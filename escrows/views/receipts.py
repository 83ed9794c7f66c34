"""Receipts: one for each payment into escrow and each release out of it, as a printable page and
as a PDF (drawn by ReportLab from the same receipt). Only the escrow's parties and staff see
them; anyone else gets the same 404 as for an escrow that does not exist."""

from io import BytesIO
from xml.sax.saxutils import escape

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.types import AuthenticatedHttpRequest
from core.errors import NotFound

from .. import selectors
from ..money import format_money


def _receipt_or_404(request: AuthenticatedHttpRequest, public_id: str, number: int) -> selectors.Receipt:
    try:
        return selectors.receipt_get(request.user, public_id, number)
    except NotFound:
        raise Http404("Receipt not found") from None


@login_required
@require_GET
def receipt(request: AuthenticatedHttpRequest, public_id: str, number: int) -> HttpResponse:
    return render(request, "escrows/receipt.html", {"receipt": _receipt_or_404(request, public_id, number)})


@login_required
@require_GET
def receipt_pdf(request: AuthenticatedHttpRequest, public_id: str, number: int) -> HttpResponse:
    found = _receipt_or_404(request, public_id, number)
    response = HttpResponse(receipt_pdf_bytes(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{found.number}.pdf"'
    return response


def receipt_pdf_bytes(r: selectors.Receipt) -> bytes:
    """The receipt as an A4 PDF: the same words and figures as the page."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"{r.title} {r.number}",
        author="Milestone Escrow",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )

    def text(value: str, style: str = "BodyText") -> Paragraph:
        return Paragraph(escape(value), styles[style])

    facts = [[text("Receipt number"), text(r.number)], [text("Date"), text(f"{r.at:%-d %b %Y, %H:%M} UTC")]]
    facts += [[text(label), text(value)] for label, value in r.facts]
    money = [[text(line.label), text(format_money(line.amount, r.currency))] for line in r.lines]
    money.append([text(r.total_label, "Heading4"), text(format_money(r.total, r.currency), "Heading4")])
    grid = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ]
    )
    story = [
        text("Milestone Escrow", "Normal"),
        text(r.title, "Title"),
        Table(facts, colWidths=[45 * mm, 125 * mm], style=grid),
        Spacer(1, 8 * mm),
        Table(money, colWidths=[120 * mm, 50 * mm], style=grid),
        Spacer(1, 8 * mm),
        text(r.note, "Italic"),
    ]
    doc.build(story)
    return out.getvalue()
