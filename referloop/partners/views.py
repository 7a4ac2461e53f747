"""Partner pages: the list (with reciprocity), the partner page, the board, people and their
moves, duplicates, and the quick interaction log (a page form, or an htmx fragment in place on
the worklist and on a referral)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients.forms import apply_domain_error
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.charts import paired_bar_chart
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent, Membership
from referloop.core.permissions import Perm, has_perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.spreadsheets import download_response
from referloop.core.timeutils import agency_today, agency_zone
from referloop.directory.models import Contact, Organization
from referloop.partners import selectors, services
from referloop.partners.availability_email import (
    PREVIEW_UNSUBSCRIBE_URL,
    availability_email_render,
)
from referloop.partners.forms import (
    ContactForm,
    InteractionForm,
    MaterialForm,
    MoveForm,
    PartnerSearchForm,
    RelationshipForm,
    StageForm,
)
from referloop.partners.models import KeyContact, Material, Relationship, Stage, Tier
from referloop.referrals import selectors as referral_selectors

LIST_LIMIT = 500


def _relationship(request, pk) -> Relationship:
    queryset = Relationship.objects.select_related("agency", "organization", "owner")
    return get_for_user_or_404(queryset, request, pk=pk)


def _detail_url(relationship) -> str:
    return reverse("partners:detail", args=[relationship.pk])


@agency_member_required(Perm.VIEW)
@require_safe
def partner_list(request):
    agency = request.agency
    params = request.GET
    stage = params.get("stage", "") if params.get("stage") in Stage.values else ""
    tier = params.get("tier", "") if params.get("tier") in Tier.values else ""
    owner = params.get("owner", "")
    owner_id = int(owner) if owner.isdigit() else None
    sort = params.get("sort", "last_contact")
    sort = sort if sort in selectors.SORTS else "last_contact"
    text = params.get("q", "")[:200].replace("\x00", "")
    rows = selectors.relationship_list(
        agency=agency,
        stage=stage,
        tier=tier,
        owner_id=owner_id,
        at_risk=params.get("at_risk") == "1",
        due=params.get("due") == "1",
        text=text,
        sort=sort,
    )
    if params.get("format") in ("csv", "xlsx"):
        audit_record(
            action="export",
            request=request,
            object_type="partners.relationship",
            detail={"format": params["format"], "rows": len(rows)},
        )
        return download_response(
            selectors.PARTNER_SHEET_HEADERS,
            selectors.partner_sheet_rows(rows, agency_zone(agency)),
            params["format"],
            filename=f"partners-{agency_today(agency).isoformat()}",
            title="Partners",
        )
    members = Membership.objects.filter(agency=agency, is_active=True).select_related("user")
    audit_record(
        action="list",
        request=request,
        object_type="partners.relationship",
        detail={"count": len(rows)},
    )
    return render(
        request,
        "partners/list.html",
        {
            "rows": rows[:LIST_LIMIT],
            "total": len(rows),
            "limit": LIST_LIMIT,
            "stages": Stage.choices,
            "tiers": Tier.choices,
            "members": members.order_by("user__full_name", "user__email"),
            "sorts": selectors.SORTS,
            "filters": {
                "stage": stage,
                "tier": tier,
                "owner": owner_id,
                "at_risk": params.get("at_risk") == "1",
                "due": params.get("due") == "1",
                "sort": sort,
                "q": text,
            },
            "base_query": _query_without(params, "sort"),
            "export_query": _query_without(params, "format"),
            "filtered": bool(stage or tier or owner_id or text)
            or params.get("at_risk") == "1"
            or params.get("due") == "1",
        },
    )


def _query_without(params, name: str) -> str:
    kept = params.copy()
    kept.pop(name, None)
    return kept.urlencode()


@agency_member_required(Perm.VIEW)
@require_safe
def partner_board(request):
    return render(
        request,
        "partners/board.html",
        {"columns": selectors.board(agency=request.agency), "stages": Stage.choices},
    )


def _detail_context(request, relationship, **forms):
    page = selectors.partner_page(relationship=relationship)
    return {
        "page": page,
        "relationship": relationship,
        "log_form": forms.get("log_form") or InteractionForm(relationship=relationship),
        "stage_form": forms.get("stage_form") or StageForm(initial={"stage": relationship.stage}),
        "chart": paired_bar_chart(
            chart_id=f"reciprocity-{relationship.pk}",
            bars=[(month, received, sent) for month, received, sent in page.months],
            labels=("received from them", "sent to them"),
            title=f"Referrals with {relationship.organization.name}, last 12 months",
        ),
    }


@agency_member_required(Perm.VIEW)
@require_safe
def partner_detail(request, pk):
    relationship = _relationship(request, pk)
    audit_record(action="view", request=request, obj=relationship)
    return render(request, "partners/detail.html", _detail_context(request, relationship))


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def partner_add(request):
    """Start a relationship with an organization of the network's directory."""
    agency = request.agency
    form = PartnerSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    if request.method == "POST":
        try:
            relationship = services.relationship_ensure(
                agency=agency, organization=request.POST.get("organization", ""), actor=request.user
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("partners:add")
        return redirect(_detail_url(relationship))
    found = []
    if query:
        known = Relationship.objects.for_agency(agency).values("organization_id")
        found = list(
            Organization.objects.filter(network_id=agency.network_id, name__icontains=query)
            .exclude(pk__in=known)
            .order_by("name")[:30]
        )
    return render(request, "partners/add.html", {"form": form, "query": query, "found": found})


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def partner_edit(request, pk):
    relationship = _relationship(request, pk)
    initial = {
        "owner": relationship.owner_id,
        "tier": relationship.tier,
        "considers": relationship.considers,
        "mutual_benefits": relationship.mutual_benefits,
    }
    form = RelationshipForm(request.POST or None, agency=request.agency, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner = None
        if data["owner"]:
            owner = Membership.objects.filter(agency=request.agency, user_id=data["owner"]).first()
        try:
            services.relationship_update(
                relationship=relationship,
                actor=request.user,
                owner=owner.user if owner else None,
                tier=data["tier"],
                considers=data["considers"],
                mutual_benefits=data["mutual_benefits"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Partner saved.")
            return redirect(_detail_url(relationship))
    return render(
        request,
        "partners/edit.html",
        {"form": form, "relationship": relationship},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def partner_stage(request, pk):
    relationship = _relationship(request, pk)
    form = StageForm(request.POST)
    back = request.POST.get("next") == "board"
    if form.is_valid():
        try:
            services.relationship_stage_move(
                relationship=relationship,
                actor=request.user,
                stage=form.cleaned_data["stage"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                f"{relationship.organization.name}: {Stage(form.cleaned_data['stage']).label}.",
            )
            return redirect("partners:board" if back else _detail_url(relationship))
    if back:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("partners:board")
    relationship.refresh_from_db()
    context = _detail_context(request, relationship, stage_form=form)
    return render(request, "partners/detail.html", context, status=400)


# --- the quick log ----------------------------------------------------------------------------


def _log(request, relationship, form) -> bool:
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        services.interaction_log(
            relationship=relationship,
            actor=request.user,
            kind=data["kind"],
            occurred_at=form.occurred_at(),
            people=data["people"],
            summary=data["summary"],
            next_step=data["next_step"],
            next_step_on=data["next_step_on"],
            referral_id=data["referral"],
            request=request,
        )
    except DomainError as error:
        apply_domain_error(form, error)
        return False
    return True


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def log_form(request, pk):
    """The log form as a fragment (htmx, in place: the worklist, a referral) — or, without
    htmx, on the partner page. A logged interaction answers with the confirmation fragment."""
    relationship = _relationship(request, pk)
    referral = request.GET.get("referral") or request.POST.get("referral") or None
    initial = {"referral": referral} if referral and str(referral).isdigit() else {}
    form = InteractionForm(request.POST or None, relationship=relationship, initial=initial)
    if request.method == "POST":
        if _log(request, relationship, form):
            relationship.refresh_from_db()
            if not request.htmx:
                messages.success(request, "Interaction logged.")
                return redirect(_detail_url(relationship))
            return render(request, "partners/_logged.html", {"relationship": relationship})
        if not request.htmx:
            context = _detail_context(request, relationship, log_form=form)
            return render(request, "partners/detail.html", context, status=400)
        return render(
            request,
            "partners/_log_form.html",
            {"form": form, "relationship": relationship, "inline": True},
        )
    if not request.htmx:
        return redirect(f"{_detail_url(relationship)}#log")
    return render(
        request,
        "partners/_log_form.html",
        {"form": form, "relationship": relationship, "inline": True},
    )


def _referral_partner(request, pk):
    """A referral of the agency's and the partner it is with: the organization it was sent to,
    or the one that sent it (the organization its sending agency runs)."""
    referral = referral_selectors.referral_for_partner_log(agency=request.agency, pk=pk)
    if referral is None:
        audit_record(
            action="access_denied",
            request=request,
            object_type="referrals.referral",
            object_id=pk,
            outcome=AuditEvent.Outcome.DENIED,
        )
        raise Http404("No referral found")
    relationship = selectors.referral_partner(agency=request.agency, referral=referral)
    if relationship is None:
        raise Http404("The sending agency has no listing in the directory")
    return referral, relationship


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def referral_log(request, pk):
    """The quick log from a referral's page: a contact with its partner, linked to it."""
    referral, relationship = _referral_partner(request, pk)
    action = reverse("partners:referral_log", args=[referral.pk])
    form = InteractionForm(
        request.POST or None, relationship=relationship, initial={"referral": referral.pk}
    )
    if request.method == "POST":
        if relationship.pk is None:
            relationship = services.relationship_ensure(
                agency=request.agency, organization=relationship.organization, actor=request.user
            )
            form.relationship = relationship
        if _log(request, relationship, form):
            relationship.refresh_from_db()
            if not request.htmx:
                messages.success(request, "Interaction logged.")
                return redirect("referrals:detail", pk=referral.pk)
            return render(request, "partners/_logged.html", {"relationship": relationship})
    elif not request.htmx:
        return redirect("referrals:detail", pk=referral.pk)
    # htmx swaps only a 2xx answer: a form with its errors comes back as 200.
    context = {"form": form, "relationship": relationship, "inline": True, "action": action}
    return render(request, "partners/_log_form.html", context)


# --- people -------------------------------------------------------------------------------------


def _contact(request, pk) -> Contact:
    return get_for_user_or_404(Contact.objects.select_related("organization"), request, pk=pk)


@agency_member_required(Perm.VIEW)
@require_safe
def people(request):
    text = request.GET.get("q", "")[:200].replace("\x00", "")
    rows = selectors.partner_people(agency=request.agency, text=text)
    duplicates = selectors.contact_duplicates(agency=request.agency, limit=20)
    return render(
        request, "partners/people.html", {"rows": rows, "q": text, "duplicates": duplicates}
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def contact_add(request, pk):
    relationship = _relationship(request, pk)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.partner_contact_create(
                agency=request.agency,
                actor=request.user,
                name=data["name"],
                organization=relationship.organization,
                title=data["title"],
                email=data["email"],
                other_emails=form.other_email_list(),
                phones=form.phone_list(),
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, f"{data['name']} added.")
            return redirect(_detail_url(relationship))
    return render(
        request,
        "partners/contact_form.html",
        {"form": form, "relationship": relationship, "contact": None},
        status=400 if form.errors else 200,
    )


def _contact_back(request, contact) -> str:
    key = (
        KeyContact.objects.for_agency(request.agency)
        .filter(contact=contact)
        .order_by("-pk")
        .first()
    )
    return (
        reverse("partners:detail", args=[key.relationship_id])
        if key
        else reverse("partners:people")
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk):
    contact = _contact(request, pk)
    initial = {
        "name": contact.name,
        "title": contact.title,
        "email": contact.email,
        "other_emails": "\n".join(contact.other_emails),
        "phones": "\n".join(contact.phones.values_list("number", flat=True)),
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.partner_contact_update(
                agency=request.agency,
                actor=request.user,
                contact=contact,
                name=data["name"],
                title=data["title"],
                email=data["email"],
                other_emails=form.other_email_list(),
                phones=form.phone_list(),
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, f"{contact.name} saved.")
            return redirect(_contact_back(request, contact))
    return render(
        request,
        "partners/contact_form.html",
        {
            "form": form,
            "contact": contact,
            "relationship": None,
            "back": _contact_back(request, contact),
        },
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def contact_move(request, pk):
    contact = _contact(request, pk)
    form = MoveForm(request.POST or None, agency=request.agency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.contact_move(
                agency=request.agency,
                actor=request.user,
                contact=contact,
                organization=data["organization"],
                title=data["title"],
                on=data["on"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                f"{contact.name} now works at {data['organization'].name}; the worklist has an "
                "item to re-establish the relationship there.",
            )
            return redirect(_contact_back(request, contact))
    partner_names = (
        Relationship.objects.for_agency(request.agency)
        .order_by("organization__name")
        .values_list("organization__name", flat=True)[:500]
    )
    return render(
        request,
        "partners/contact_move.html",
        {"form": form, "contact": contact, "partner_names": partner_names},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def contact_merge(request):
    """Merges the duplicate into the record kept (both must be the network's people)."""
    keep = _contact(request, request.POST.get("keep", "0") or "0")
    duplicate = _contact(request, request.POST.get("duplicate", "0") or "0")
    try:
        services.contact_merge(
            agency=request.agency,
            actor=request.user,
            keep=keep,
            duplicate=duplicate,
            request=request,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Merged into {keep.name}; every interaction is kept.")
    return redirect("partners:people")


@agency_member_required(Perm.WRITE)
@require_POST
def key_contact_done(request, pk):
    key = get_for_user_or_404(KeyContact.objects.select_related("agency"), request, pk=pk)
    services.key_contact_done(key_contact=key, actor=request.user, request=request)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, "Done.")
    return redirect("partners:detail", pk=key.relationship_id)


PAGE_SIZE = 50


@agency_member_required(Perm.VIEW)
@require_safe
def materials(request):
    services.materials_defaults_ensure(agency=request.agency)
    sent = Paginator(selectors.print_media_sent(agency=request.agency), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "partners/materials.html",
        {
            "materials": list(selectors.agency_materials(agency=request.agency)),
            "sent": sent,
            "can_write": has_perm(request.membership, Perm.WRITE),
        },
    )


def _material_form_page(request, form, material=None):
    status = 400 if form.errors else 200
    context = {"form": form, "material": material, "creating": material is None}
    return render(request, "partners/material_form.html", context, status=status)


def _material_save(request, form, material=None):
    """The form's material through the service, or None with the refusal on the form."""
    try:
        return services.material_save(
            agency=request.agency,
            actor=request.user,
            material=material,
            request=request,
            **form.cleaned_data,
        )
    except DomainError as error:
        apply_domain_error(form, error)
        return None


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def material_create(request):
    form = MaterialForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _material_save(request, form):
        messages.success(request, f"{form.cleaned_data['name']} is added.")
        return redirect("partners:materials")
    return _material_form_page(request, form)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def material_edit(request, pk):
    material = get_for_user_or_404(Material, request, pk=pk)
    form = MaterialForm(request.POST or None, initial=MaterialForm.initial_for(material))
    if request.method == "POST" and form.is_valid() and _material_save(request, form, material):
        messages.success(request, "Saved.")
        return redirect("partners:materials")
    return _material_form_page(request, form, material)


# --- the monthly availability e-mail ----------------------------------------------------------


@agency_member_required(Perm.VIEW)
@require_safe
def availability(request):
    agency = request.agency
    counts = selectors.agency_availability(agency=agency)
    recipients = list(selectors.availability_recipients(agency=agency))
    preview = availability_email_render(
        agency=agency,
        availability=counts,
        month=agency_today(agency),
        unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL,
    )
    return render(
        request,
        "partners/availability.html",
        {
            "availability": counts,
            "preview": preview,
            "recipients": recipients,
            "contacts": list(selectors.established_contacts(agency=agency)),
            "sent_this_month": services.availability_sent_this_month(agency=agency),
            "can_write": has_perm(request.membership, Perm.WRITE),
        },
    )


@agency_member_required(Perm.WRITE)
@require_POST
def availability_send(request):
    try:
        queued = services.availability_email_send(
            agency=request.agency,
            actor=request.user,
            force=request.POST.get("force") == "1",
            request=request,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Queued {queued} e-mail{'s' if queued != 1 else ''}: the worker sends them."
        )
    return redirect("partners:availability")


def _ids(values) -> set[int]:
    return {int(value) for value in values if value.isdigit()}


@agency_member_required(Perm.WRITE)
@require_POST
def availability_opt_ins(request):
    """The list's checkboxes: each shown person on the list or off it, as ticked."""
    shown, ticked = _ids(request.POST.getlist("shown")), _ids(request.POST.getlist("opted_in"))
    contacts = selectors.established_contacts(agency=request.agency).filter(pk__in=shown)
    refused = []
    for key in contacts:
        try:
            services.availability_opt_in(
                key_contact=key, actor=request.user, opted_in=key.pk in ticked, request=request
            )
        except DomainError as error:
            refused.append(error.message)
    for message in refused:
        messages.error(request, message)
    if not refused:
        messages.success(request, "The list is saved.")
    return redirect("partners:availability")
