"""The pages: residents, inbound referrals (entered, taken in from the form, decided, moved in),
a stay's edits and discharge, an owed update (drafted, sent or skipped), the templates."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients import selectors as client_selectors
from referloop.clients.forms import apply_domain_error
from referloop.clients.models import Client
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.timeutils import agency_today
from referloop.partners.models import Relationship
from referloop.stays import selectors, services
from referloop.stays.forms import (
    ApplicationForm,
    DischargeForm,
    InboundForm,
    MoveInForm,
    SkipForm,
    SourceForm,
    StayForm,
    TemplateForm,
    UpdateForm,
)
from referloop.stays.models import (
    Application,
    InboundReferral,
    Stay,
    UpdateKind,
    UpdateOwed,
    UpdateState,
)

PAGE_SIZE = 50


def _inbound(request, pk) -> InboundReferral:
    queryset = InboundReferral.objects.select_related(
        "agency", "client", "source_organization", "source_contact", "owner", "network_referral"
    )
    return get_for_user_or_404(queryset, request, pk=pk)


def _inbound_url(inbound) -> str:
    return reverse("stays:inbound_detail", args=[inbound.pk])


@agency_member_required(Perm.VIEW)
@require_safe
def residents(request):
    rows = selectors.residents(agency=request.agency)
    audit_record(
        action="list", request=request, object_type="stays.stay", detail={"count": len(rows)}
    )
    return render(
        request,
        "stays/residents.html",
        {"rows": rows, "enabled": request.agency.policies.stays_enabled},
    )


@agency_member_required(Perm.VIEW)
@require_safe
def inbound_list(request):
    status = request.GET.get("status", "")
    status = status if status in Application.values else ""
    source = request.GET.get("source", "")
    source_id = int(source) if source.isdigit() else None
    page = Paginator(
        selectors.inbound_list(agency=request.agency, status=status, source_id=source_id),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    audit_record(
        action="list",
        request=request,
        object_type="stays.inboundreferral",
        detail={"page": page.number},
    )
    sources = (
        Relationship.objects.for_agency(request.agency)
        .select_related("organization")
        .order_by("organization__name")
    )
    return render(
        request,
        "stays/inbound_list.html",
        {
            "page": page,
            "statuses": Application.choices,
            "sources": sources,
            "filters": {"status": status, "source": source_id},
        },
    )


def _client_step(request, *, move_in: bool):
    """The first step of a form about one client: the client of `?client=`, else the search
    page to find them (client, None) or (None, page)."""
    if request.GET.get("client", "").isdigit():
        return get_for_user_or_404(Client, request, pk=int(request.GET["client"])), None
    query = request.GET.get("q", "").strip()[:200]
    found = client_selectors.client_search(agency=request.agency, text=query) if query else []
    context = {"query": query, "found": found, "move_in": move_in}
    return None, render(request, "stays/inbound_client.html", context)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def inbound_create(request):
    """Record a referral a partner made to us: first the client, then who referred them."""
    agency = request.agency
    client, search_page = _client_step(request, move_in=False)
    if client is None:
        return search_page
    form = InboundForm(
        request.POST or None, agency=agency, initial={"referred_on": agency_today(agency)}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            inbound = services.inbound_create(
                agency=agency,
                actor=request.user,
                data=services.InboundData(
                    client=client,
                    source_organization=data["source_organization"],
                    source_contact=data["source_contact"],
                    referred_on=data["referred_on"],
                    note=data["note"],
                ),
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, f"Referral {inbound.tracking_id} recorded.")
            return redirect(_inbound_url(inbound))
    audit_record(action="view", request=request, obj=client, detail={"form": "inbound"})
    return render(
        request,
        "stays/inbound_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


def _stay_forms(request, stay, **forms) -> dict:
    """The stay's numbers and its edit and discharge forms (on the inbound page or its own)."""
    if stay is None:
        return {"stay_form": None, "discharge_form": None}
    today = agency_today(request.agency)
    initial = {
        "sobriety_on": stay.sobriety_on,
        "house": stay.house,
        "tell_source_of_discharge": stay.tell_source_of_discharge,
        "version": stay.version,
    }
    return {
        "days_sober": (today - stay.sobriety_on).days if stay.sobriety_on else None,
        "days_here": ((stay.discharge_on or today) - stay.move_in_on).days,
        "stay_form": forms.get("stay_form") or StayForm(initial=initial),
        "discharge_form": forms.get("discharge_form")
        or DischargeForm(initial={"discharge_on": today}),
    }


def _detail_context(request, inbound, **forms):
    page = selectors.inbound_page(inbound=inbound)
    stay = page.stay
    relationship = (
        Relationship.objects.for_agency(request.agency)
        .filter(organization_id=inbound.source_organization_id)
        .first()
        if inbound.source_organization_id
        else None
    )
    today = agency_today(request.agency)
    return {
        "inbound": inbound,
        "page": page,
        "stay": stay,
        "relationship": relationship,
        "application_form": forms.get("application_form")
        or ApplicationForm(initial={"status": inbound.status, "version": inbound.version}),
        "move_in_form": forms.get("move_in_form") or MoveInForm(initial={"move_in_on": today}),
        **_stay_forms(request, stay, **forms),
        "review_form": forms.get("review_form")
        or (SourceForm(agency=request.agency) if inbound.status == Application.NEW else None),
        "client_query": request.GET.get("q", "").strip()[:200],
        "client_found": (
            client_selectors.client_search(agency=request.agency, text=request.GET["q"][:200])
            if inbound.status == Application.NEW and request.GET.get("q", "").strip()
            else []
        ),
    }


@agency_member_required(Perm.VIEW)
@require_safe
def inbound_detail(request, pk):
    inbound = _inbound(request, pk)
    audit_record(action="view", request=request, obj=inbound)
    return render(request, "stays/inbound_detail.html", _detail_context(request, inbound))


def _detail_again(request, inbound, **forms):
    inbound.refresh_from_db()
    context = _detail_context(request, inbound, **forms)
    return render(request, "stays/inbound_detail.html", context, status=400)


@agency_member_required(Perm.WRITE)
@require_POST
def inbound_review(request, pk):
    """A form submission taken in: the client chosen, the source matched to the directory."""
    inbound = _inbound(request, pk)
    form = SourceForm(request.POST, agency=request.agency)
    client_id = request.POST.get("client", "")
    if form.is_valid():
        data = form.cleaned_data
        try:
            client = (
                get_for_user_or_404(Client, request, pk=int(client_id))
                if client_id.isdigit()
                else None
            )
            services.inbound_review(
                inbound=inbound,
                actor=request.user,
                data=services.InboundData(
                    client=client,
                    source_organization=data["source_organization"],
                    source_contact=data["source_contact"],
                ),
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Referral taken in.")
            return redirect(_inbound_url(inbound))
    return _detail_again(request, inbound, review_form=form)


@agency_member_required(Perm.WRITE)
@require_POST
def application(request, pk):
    inbound = _inbound(request, pk)
    form = ApplicationForm(request.POST)
    if form.is_valid():
        try:
            services.application_record(
                inbound=inbound,
                actor=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data["version"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Application updated.")
            return redirect(_inbound_url(inbound))
    return _detail_again(request, inbound, application_form=form)


@agency_member_required(Perm.WRITE)
@require_POST
def move_in(request, pk):
    inbound = _inbound(request, pk)
    form = MoveInForm(request.POST)
    if form.is_valid():
        try:
            services.stay_move_in(
                agency=request.agency,
                actor=request.user,
                inbound=inbound,
                move_in_on=form.cleaned_data["move_in_on"],
                sobriety_on=form.cleaned_data["sobriety_on"],
                house=form.cleaned_data["house"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Move-in recorded: the source's updates are scheduled.")
            return redirect(_inbound_url(inbound))
    return _detail_again(request, inbound, move_in_form=form)


def _stay(request, pk) -> Stay:
    return get_for_user_or_404(
        Stay.objects.select_related("agency", "inbound", "client"), request, pk=pk
    )


def _stay_back(stay) -> str:
    if stay.inbound_id:
        return _inbound_url(stay.inbound)
    return reverse("stays:stay_detail", args=[stay.pk])


def _stay_again(request, stay, **forms):
    """The page the stay's forms are on, again, with a form's errors (400)."""
    if stay.inbound_id:
        return _detail_again(request, _inbound(request, stay.inbound_id), **forms)
    stay.refresh_from_db()
    context = {"stay": stay, **_stay_forms(request, stay, **forms)}
    return render(request, "stays/stay_detail.html", context, status=400)


@agency_member_required(Perm.VIEW)
@require_safe
def stay_detail(request, pk):
    """A stay of its own page: a resident who came without a partner's referral."""
    stay = _stay(request, pk)
    if stay.inbound_id:
        return redirect(_inbound_url(stay.inbound))
    audit_record(action="view", request=request, obj=stay)
    context = {"stay": stay, **_stay_forms(request, stay)}
    return render(request, "stays/stay_detail.html", context)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def move_in_client(request):
    """A move-in without a partner's referral (a self-referral, a walk-in): the client first."""
    agency = request.agency
    client, search_page = _client_step(request, move_in=True)
    if client is None:
        return search_page
    form = MoveInForm(request.POST or None, initial={"move_in_on": agency_today(agency)})
    if request.method == "POST" and form.is_valid():
        try:
            stay = services.stay_move_in(
                agency=agency,
                actor=request.user,
                client=client,
                move_in_on=form.cleaned_data["move_in_on"],
                sobriety_on=form.cleaned_data["sobriety_on"],
                house=form.cleaned_data["house"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Move-in recorded.")
            return redirect("stays:stay_detail", pk=stay.pk)
    audit_record(action="view", request=request, obj=client, detail={"form": "move-in"})
    return render(
        request,
        "stays/move_in.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def stay_edit(request, pk):
    stay = _stay(request, pk)
    form = StayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.stay_update(
                stay=stay,
                actor=request.user,
                sobriety_on=data["sobriety_on"],
                house=data["house"],
                tell_source_of_discharge=data["tell_source_of_discharge"],
                version=data["version"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Stay saved.")
            return redirect(_stay_back(stay))
    return _stay_again(request, stay, stay_form=form)


@agency_member_required(Perm.WRITE)
@require_POST
def discharge(request, pk):
    stay = _stay(request, pk)
    form = DischargeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.stay_discharge(
                stay=stay,
                actor=request.user,
                discharge_on=data["discharge_on"],
                reason=data["reason"],
                note=data["note"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Discharge recorded.")
            return redirect(_stay_back(stay))
    return _stay_again(request, stay, discharge_form=form)


# --- owed updates -----------------------------------------------------------------------------


def _update(request, pk) -> UpdateOwed:
    queryset = UpdateOwed.objects.select_related(
        "agency",
        "stay",
        "inbound__agency",
        "inbound__client",
        "inbound__source_organization",
        "inbound__source_contact",
        "inbound__network_referral__owner",
    )
    return get_for_user_or_404(queryset, request, pk=pk)


def _update_page(request, update, form=None, skip_form=None, status=200):
    inbound = update.inbound
    decision = selectors.update_consent(update)
    if form is None:
        subject, body = selectors.update_draft(update, sender=request.user)
        form = UpdateForm(
            initial={"to": selectors.update_recipient(inbound), "subject": subject, "body": body}
        )
    consent_url = ""
    if inbound.client_id and inbound.source_organization_id:
        consent_url = (
            f"{reverse('clients:consent_create', kwargs={'pk': inbound.client_id})}"
            f"?organization={inbound.source_organization_id}&next={request.path}"
        )
    return render(
        request,
        "stays/update.html",
        {
            "update": update,
            "inbound": inbound,
            "decision": decision,
            "categories": selectors.UPDATE_CATEGORIES[update.kind],
            "form": form,
            "skip_form": skip_form or SkipForm(),
            "consent_url": consent_url,
            "owed": update.state == UpdateState.OWED,
        },
        status=status,
    )


@agency_member_required(Perm.VIEW)
@require_safe
def update(request, pk):
    """The owed update: the drafted message, whether consent allows it, send (or skip)."""
    owed = _update(request, pk)
    audit_record(action="view", request=request, obj=owed)
    return _update_page(request, owed)


@agency_member_required(Perm.WRITE)
@require_POST
def update_send(request, pk):
    owed = _update(request, pk)
    form = UpdateForm(request.POST)
    if form.is_valid():
        try:
            services.update_send(
                update=owed,
                actor=request.user,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                to=form.cleaned_data["to"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Update sent, and logged with the partner.")
            return redirect(_inbound_url(owed.inbound))
    return _update_page(request, owed, form=form, status=400)


@agency_member_required(Perm.WRITE)
@require_POST
def update_skip(request, pk):
    owed = _update(request, pk)
    form = SkipForm(request.POST)
    if form.is_valid():
        try:
            services.update_skip(
                update=owed, actor=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Update skipped.")
            return redirect(_inbound_url(owed.inbound))
    return _update_page(request, owed, skip_form=form, status=400)


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_http_methods(["GET", "POST"])
def templates(request):
    """The agency's wording of each kind of update (the built-in wording until it writes one)."""
    agency = request.agency
    posted = None
    if request.method == "POST":
        posted = TemplateForm(request.POST)
        if posted.is_valid():
            try:
                services.template_save(
                    agency=agency, actor=request.user, **posted.cleaned_data, request=request
                )
            except DomainError as error:
                apply_domain_error(posted, error)
            else:
                messages.success(request, "Template saved.")
                return redirect("stays:templates")
    forms_by_kind = []
    for wording in selectors.update_wordings(agency=agency):
        if posted is not None and posted.data.get("kind") == wording.kind:
            form = posted
        else:
            form = TemplateForm(
                initial={"kind": wording.kind, "subject": wording.subject, "body": wording.body},
                prefix=None,
            )
        forms_by_kind.append((UpdateKind(wording.kind), form, wording.custom))
    return render(
        request,
        "stays/templates.html",
        {"forms": forms_by_kind, "placeholders": selectors.PLACEHOLDERS},
        status=400 if posted is not None and posted.errors else 200,
    )
