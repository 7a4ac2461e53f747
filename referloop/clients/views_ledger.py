"""A client's disclosure ledger: what was shared about them, with whom, when, how and under which
consent (42 CFR 2.24 gives the client a right to such a list). Only the client's own agency reads
it -- a receiving agency never sees the client record -- and every read is audited."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from referloop.clients.models import Category, Client
from referloop.clients.selectors import client_disclosures
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.spreadsheets import download_response
from referloop.core.timeutils import agency_zone

PAGE_SIZE = 50
CATEGORY_LABELS = dict(Category.choices)
CSV_COLUMNS = (
    "when",
    "recipient",
    "recipient_address",
    "channel",
    "categories",
    "description",
    "consent",
    "consent_state_now",
    "by",
)


def _ledger(client: Client):
    return client_disclosures(client=client).select_related("consent__recipient_organization")


def _labels(disclosure) -> list[str]:
    return [CATEGORY_LABELS.get(value, value) for value in disclosure.categories]


def _csv_rows(client: Client, zone):
    now = timezone.now()
    for entry in _ledger(client).iterator(chunk_size=500):
        consent = entry.consent
        yield [
            entry.at.astimezone(zone).isoformat(timespec="minutes"),
            entry.recipient_name,
            entry.recipient_address,
            entry.get_channel_display(),
            "; ".join(_labels(entry)),
            entry.description,
            f"#{consent.pk} {consent.recipient_label}",
            consent.state_at(now),
            str(entry.by) if entry.by_id else "",
        ]


@agency_member_required(Perm.VIEW)
@require_safe
@never_cache
def disclosures(request, pk: int):
    client = get_for_user_or_404(Client, request, pk=pk)
    if request.GET.get("format") == "csv":
        audit_record(action="export", request=request, obj=client, detail={"ledger": "csv"})
        return download_response(
            CSV_COLUMNS,
            _csv_rows(client, agency_zone(request.agency)),
            "csv",
            filename=f"disclosures-client-{client.pk}",
            title="Disclosures",
        )
    page = Paginator(_ledger(client), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(action="view", request=request, obj=client, detail={"ledger": page.number})
    entries = [(entry, _labels(entry)) for entry in page.object_list]
    return render(
        request, "clients/disclosures.html", {"client": client, "page": page, "entries": entries}
    )
