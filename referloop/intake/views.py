"""The pages: the inquiries, the screening with its live decision panel, the information-and-
referral record (decision, options, the person's choice, the warm handoff), the rules and the
intake rotation."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients import selectors as client_selectors
from referloop.clients.forms import ConsentForm, apply_domain_error
from referloop.clients.models import Category
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.models import Membership
from referloop.core.permissions import Perm, has_perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.spreadsheets import download_response
from referloop.core.timeutils import agency_today, agency_zone
from referloop.intake import rules as triage
from referloop.intake import selectors, services
from referloop.intake.forms import (
    AssignForm,
    CloseForm,
    HandoffForm,
    ProfileForm,
    RuleFormSet,
    ScreeningForm,
    ShiftFormSet,
    when_text,
)
from referloop.intake.models import Inquiry, InquiryOption, Status

PAGE_SIZE = 50


def _inquiry(request, pk) -> Inquiry:
    return get_for_user_or_404(
        Inquiry.objects.select_related("agency", "owner", "client"), request, pk=pk
    )


def _members(agency):
    return list(
        Membership.objects.filter(agency=agency, is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


@agency_member_required(Perm.VIEW)
@require_safe
def inquiry_list(request):
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in triage.OUTCOMES else ""
    owner = request.GET.get("owner", "")
    rows = selectors.inquiry_list(
        agency=request.agency,
        status=status,
        outcome=outcome,
        owner=request.user if owner == "me" else None,
        unassigned=owner == "none",
    )
    if request.GET.get("format") in ("csv", "xlsx"):
        audit_record(
            action="export",
            request=request,
            object_type="intake.inquiry",
            detail={"format": request.GET["format"]},
        )
        return download_response(
            selectors.INQUIRY_SHEET_HEADERS,
            selectors.inquiry_sheet_rows(rows, agency_zone(request.agency)),
            request.GET["format"],
            filename=f"inquiries-{agency_today(request.agency).isoformat()}",
            title="Inquiries",
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action="list", request=request, object_type="intake.inquiry", detail={"page": page.number}
    )
    filters = {"status": status, "outcome": outcome, "owner": owner}
    query = "&".join(f"{key}={value}" for key, value in filters.items() if value)
    return render(
        request,
        "intake/inquiry_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "statuses": Status.choices,
            "outcomes": list(triage.OUTCOMES.items()),
            "on_intake": selectors.on_intake(agency=request.agency),
        },
    )


def _reasons(texts) -> list[tuple[str, str]]:
    css = {"✓": "reason-ok", "✗": "reason-fail"}
    return [(text, css.get(text[:1], "reason-unknown")) for text in texts]


def _panel_of_triage(decided: selectors.Triage) -> dict:
    """The decision panel of a screening not saved yet: Refer saves it and goes on."""
    decision = decided.decision
    return {
        "outcome": decision.outcome,
        "outcome_label": decision.outcome_label,
        "urgent": decision.urgent,
        "fired": [
            {"name": f.name, "action": f.action, "explanation": f.explanation}
            for f in decision.fired
        ],
        "in_house": decided.in_house.services if decision.serve_in_house else (),
        "needs": [
            {
                "label": group.label,
                "before_admission": group.before_admission,
                "note": group.note,
                "items": [
                    {
                        "service_name": r.result.service.name,
                        "organization_name": r.result.service.organization.name,
                        "reasons": _reasons(
                            [*r.result.matched, *r.result.failed, *r.result.notes, *r.notes]
                        ),
                        "service_pk": r.result.service.pk,
                    }
                    for r in group.recommendations
                ],
            }
            for group in decided.options
        ],
    }


def _panel_of_inquiry(inquiry: Inquiry, options) -> dict:
    """The decision panel of a recorded inquiry: as decided then, with the options offered."""
    groups = []
    for option in options:
        if not groups or groups[-1]["need"] != option.need:
            groups.append(
                {
                    "need": option.need,
                    "label": selectors.need_label(
                        option.need,
                        service_format=inquiry.service_format,
                        request_need=inquiry.need,
                        contraindicated=inquiry.contraindicated,
                    ),
                    "before_admission": option.before_admission,
                    "note": "",
                    "items": [],
                }
            )
        groups[-1]["items"].append(
            {
                "option": option,
                "service_name": option.service_name,
                "organization_name": option.organization_name,
                "reasons": _reasons(option.reasons),
            }
        )
    return {
        "outcome": inquiry.outcome,
        "outcome_label": inquiry.get_outcome_display(),
        "urgent": inquiry.urgent,
        "fired": inquiry.fired,
        "in_house": (),
        "needs": groups,
    }


def _panel(request, form: ScreeningForm) -> dict:
    """The decision for the answers so far, or what is still missing."""
    if not form.is_valid():
        return {"missing": "Some answers are not valid yet: see the form."}
    try:
        screening = services.screening_clean(form.to_data())
    except DomainError as error:
        return {"missing": error.message}
    decided = selectors.triage_screening(agency=request.agency, screening=screening)
    return {"panel": _panel_of_triage(decided)}


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def inquiry_create(request):
    form = ScreeningForm(request.POST or None)
    panel = {"missing": "Answer the questions: the decision appears here as you go."}
    if request.method == "POST":
        if form.is_valid():
            try:
                inquiry = services.inquiry_create(
                    agency=request.agency, actor=request.user, data=form.to_data(), request=request
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(
                    request,
                    f"Inquiry {inquiry.pk} recorded: {inquiry.get_outcome_display().lower()}.",
                )
                refer_to = request.POST.get("refer_service", "")
                option = (
                    inquiry.options.filter(service_id=int(refer_to)).first()
                    if refer_to.isdigit()
                    else None
                )
                if option is not None:
                    return redirect("intake:refer", pk=inquiry.pk, option_pk=option.pk)
                return redirect("intake:detail", pk=inquiry.pk)
        panel = _panel(request, form)
    return render(
        request,
        "intake/inquiry_form.html",
        {"form": form, **panel, "on_intake": selectors.on_intake(agency=request.agency)},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def inquiry_decide(request):
    """The decision panel for the answers so far (htmx, as the form changes); nothing is saved."""
    return render(request, "intake/_decision.html", _panel(request, ScreeningForm(request.POST)))


def _detail_context(request, inquiry, **forms):
    options = selectors.inquiry_options(inquiry=inquiry)
    members = _members(inquiry.agency)
    return {
        "inquiry": inquiry,
        "panel": _panel_of_inquiry(inquiry, options),
        "assign_form": forms.get("assign_form")
        or AssignForm(
            initial={"owner": inquiry.owner_id or request.user.pk, "version": inquiry.version},
            members=members,
        ),
        "close_form": forms.get("close_form")
        or CloseForm(initial={"status": Status.CLOSED, "version": inquiry.version}),
        "specialties": [triage.SPECIALTIES[code][0] for code in inquiry.specialties],
        "need_name": triage.NEED_NAMES.get(inquiry.need, inquiry.need),
    }


@agency_member_required(Perm.VIEW)
@require_safe
def inquiry_detail(request, pk):
    inquiry = _inquiry(request, pk)
    audit_record(action="view", request=request, obj=inquiry)
    return render(request, "intake/inquiry_detail.html", _detail_context(request, inquiry))


def _rerender(request, inquiry, **forms):
    return render(
        request,
        "intake/inquiry_detail.html",
        _detail_context(request, inquiry, **forms),
        status=400,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def inquiry_assign(request, pk):
    inquiry = _inquiry(request, pk)
    members = _members(inquiry.agency)
    form = AssignForm(request.POST, members=members)
    if form.is_valid():
        owner = next(m.user for m in members if m.user_id == form.cleaned_data["owner"])
        try:
            services.inquiry_assign(
                inquiry=inquiry,
                actor=request.user,
                owner=owner,
                version=form.cleaned_data["version"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, f"Inquiry {inquiry.pk} is {owner}'s now.")
            return redirect("intake:detail", pk=inquiry.pk)
    return _rerender(request, inquiry, assign_form=form)


@agency_member_required(Perm.WRITE)
@require_POST
def inquiry_close(request, pk):
    inquiry = _inquiry(request, pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.inquiry_close(
                inquiry=inquiry,
                actor=request.user,
                status=form.cleaned_data["status"],
                choice_note=form.cleaned_data["choice_note"],
                version=form.cleaned_data["version"],
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "The person's choice is recorded.")
            return redirect("intake:detail", pk=inquiry.pk)
    return _rerender(request, inquiry, close_form=form)


def _option(request, pk, option_pk) -> InquiryOption:
    option = selectors.inquiry_option(inquiry=_inquiry(request, pk), pk=option_pk)
    if option is None:
        raise Http404("No such option")
    return option


@agency_member_required(Perm.WRITE)
@require_POST
def option_choose(request, pk, option_pk):
    option = _option(request, pk, option_pk)
    try:
        services.option_choose(
            option=option,
            actor=request.user,
            chosen=request.POST.get("chosen") == "yes",
            request=request,
        )
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("intake:detail", pk=pk)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def inquiry_refer(request, pk, option_pk):
    """One step from a recommendation to a sent referral: the client (from the inquiry), the
    consent (one in force, or recorded here), the partner's address, send."""
    option = _option(request, pk, option_pk)
    inquiry = option.inquiry
    if option.referral_id:
        messages.info(request, f"Referral {option.referral.tracking_id} was sent for this option.")
        return redirect("referrals:detail", pk=option.referral_id)
    organization = option.organization
    if organization is None:
        messages.error(request, "That listing is no longer in the directory.")
        return redirect("intake:detail", pk=inquiry.pk)
    client = inquiry.client
    consents = (
        [
            consent
            for consent in client_selectors.client_consents(client=client)
            if consent.state_at() == "in force"
            and client_selectors.consent_covers_recipient(consent, organization)
        ]
        if client
        else []
    )
    duplicates = (
        client_selectors.client_possible_duplicates(
            agency=inquiry.agency,
            first_name=inquiry.first_name,
            last_name=inquiry.last_name,
            date_of_birth="",
        )
        if client is None and inquiry.last_name
        else []
    )
    form = HandoffForm(
        request.POST or None,
        initial={
            "last_name": inquiry.last_name,
            "contact_email": (option.service.email if option.service else "") or organization.email,
            "reason": f"Referred from intake for {option.need_name.lower()}.",
            "consent": str(consents[0].pk) if consents else "",
        },
        consents=consents,
        duplicates=duplicates,
        needs_client=client is None,
    )
    consent_form = ConsentForm(
        request.POST or None,
        prefix="consent",
        network=inquiry.agency.network,
        initial={
            "organization": organization.pk,
            "organization_name": organization.name,
            "signed_by_name": inquiry.display_name,
            "categories": [Category.CONTACT, Category.REASON],
            "purpose": "Referral for services and follow-up",
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = next((c for c in consents if str(c.pk) == data.get("consent")), None)
        if chosen is not None or consent_form.is_valid():
            handoff = services.Handoff(
                client=form.existing_client(),
                last_name=data.get("last_name", ""),
                date_of_birth=str(data["date_of_birth"]) if data.get("date_of_birth") else "",
                allow_duplicate=data.get("allow_duplicate", False),
                consent=chosen,
                consent_data=None if chosen is not None else consent_form.to_data(),
                contact_email=data["contact_email"],
                reason=data["reason"],
            )
            try:
                referral = services.inquiry_refer(
                    option=option, actor=request.user, handoff=handoff, request=request
                )
            except DomainError as error:
                target = consent_form if error.field in consent_form.fields else form
                apply_domain_error(target, error)
            else:
                messages.success(
                    request,
                    f"Referral {referral.tracking_id} sent to {organization.name}, with follow-up.",
                )
                return redirect("intake:detail", pk=inquiry.pk)
    audit_record(action="view", request=request, obj=inquiry, detail={"form": "warm handoff"})
    return render(
        request,
        "intake/refer.html",
        {
            "inquiry": inquiry,
            "option": option,
            "form": form,
            "consent_form": consent_form,
            "has_consent": bool(consents),
        },
        status=400 if form.errors or consent_form.errors else 200,
    )


# --- rules and rotation --------------------------------------------------------------------------


def _rule_initial(rules):
    return [{**rule, "when": when_text(rule["when"])} for rule in rules]


@agency_member_required(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def rules_page(request):
    agency = request.agency
    profile = selectors.agency_profile(agency=agency)
    profile_form = ProfileForm(
        initial={
            "formats": profile.formats,
            "age_groups": profile.age_groups,
            "specialties": profile.specialties,
            "max_severity": profile.max_severity,
            "court_qualified": profile.court_qualified,
            "accepting_new": profile.accepting_new,
        }
    )
    formset = RuleFormSet(
        initial=_rule_initial(selectors.agency_rules(agency=agency)), prefix="rule"
    )
    rules_error = ""
    if request.method == "POST":
        if not _may_configure(request):
            return render(request, "403.html", status=403)
        action = request.POST.get("action")
        try:
            if action == "reset":
                services.rules_reset(agency=agency, actor=request.user, request=request)
                messages.success(request, "The default rules are back.")
                return redirect("intake:rules")
            if action == "profile":
                profile_form = ProfileForm(request.POST)
                if profile_form.is_valid():
                    services.profile_save(
                        agency=agency,
                        actor=request.user,
                        data=profile_form.to_data(),
                        request=request,
                    )
                    messages.success(request, "What we offer is saved.")
                    return redirect("intake:rules")
            else:
                formset = RuleFormSet(request.POST, initial=formset.initial, prefix="rule")
                if formset.is_valid():
                    rules = [
                        rule_form.to_rule()
                        for rule_form in formset.forms
                        if rule_form.has_changed() or rule_form in formset.initial_forms
                        if not rule_form.cleaned_data.get("DELETE")
                    ]
                    services.rules_save(
                        agency=agency, actor=request.user, rules=rules, request=request
                    )
                    messages.success(
                        request,
                        f"{len(rules)} rules saved and checked: every screening gets a decision.",
                    )
                    return redirect("intake:rules")
        except DomainError as error:
            rules_error = error.message
    for rule_form, rule in zip(formset.forms, selectors.agency_rules(agency=agency), strict=False):
        rule_form.described = triage.describe_when(rule["when"])
    return render(
        request,
        "intake/rules.html",
        {
            "formset": formset,
            "profile_form": profile_form,
            "rules_error": rules_error,
            "facts": triage.FACTS,
            "actions": triage.ACTIONS,
            "parameters": triage.PARAMETERS,
            "placeholders": triage.PLACEHOLDERS,
        },
        status=400 if rules_error or formset.errors or profile_form.errors else 200,
    )


def _may_configure(request) -> bool:
    return has_perm(request.membership, Perm.CONFIGURE_AGENCY)


@agency_member_required(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def rotation(request):
    agency = request.agency
    members = _members(agency)
    initial = [
        {"user": s.user_id, "weekday": s.weekday, "starts_at": s.starts_at, "ends_at": s.ends_at}
        for s in selectors.agency_shifts(agency=agency)
    ]
    formset = ShiftFormSet(initial=initial, prefix="shift", form_kwargs={"members": members})
    error = ""
    if request.method == "POST":
        if not _may_configure(request):
            return render(request, "403.html", status=403)
        formset = ShiftFormSet(
            request.POST, initial=initial, prefix="shift", form_kwargs={"members": members}
        )
        if formset.is_valid():
            shifts = [
                shift_form.to_data()
                for shift_form in formset.forms
                if shift_form.has_changed() or shift_form in formset.initial_forms
                if not shift_form.cleaned_data.get("DELETE")
            ]
            try:
                services.shifts_save(
                    agency=agency, actor=request.user, shifts=shifts, request=request
                )
            except DomainError as problem:
                error = problem.message
            else:
                messages.success(request, f"The rotation is saved: {len(shifts)} shifts.")
                return redirect("intake:rotation")
    return render(
        request,
        "intake/rotation.html",
        {"formset": formset, "error": error, "on_intake": selectors.on_intake(agency=agency)},
        status=400 if error or formset.errors else 200,
    )
