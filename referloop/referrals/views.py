"""Referral pages: the list (sent by us / sent to us), the one-flow "new referral", and the detail
page with its next action and timeline. Every write goes through referrals.services."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients import selectors as client_selectors
from referloop.clients.forms import apply_domain_error
from referloop.clients.models import Client
from referloop.clients.selectors import safe_contact_rules
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.models import User
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.directory.models import Organization, Service, TaxonomyTerm
from referloop.directory.vocabulary import NEEDS
from referloop.referrals import selectors, services
from referloop.referrals.due import escalation_threshold
from referloop.referrals.forms import (
    AnswerForm,
    BounceResolveForm,
    FollowUpForm,
    NoteForm,
    ReassignForm,
    ReferralFilterForm,
    ReferralForm,
    TransitionForm,
)
from referloop.referrals.models import (
    CLOSED,
    TRANSITIONS,
    DispositionCode,
    DispositionKind,
    Referral,
    Status,
)
from referloop.referrals.packets import packet_data, referral_packet_check, stored_packet_check
from referloop.referrals.packets import packet_release as release_packet
from referloop.referrals.services import Actor, ReferralData

PAGE_SIZE = 50


def _actor(request) -> Actor:
    return Actor(user=request.user, agency=request.agency)


@agency_member_required(Perm.VIEW)
@require_safe
def referral_list(request):
    form = ReferralFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "referrals/list.html", {"form": form, "page": None}, status=400)
    data = form.cleaned_data
    owner = data["owner"]
    owner_id = request.user.pk if owner == "me" else (int(owner) if owner else None)
    direction = data["direction"] or "outbound"
    rows = selectors.referral_list(
        agency=request.agency,
        direction=direction,
        statuses=data["status"],
        owner_id=owner_id,
        partner_id=data["partner"],
        overdue=data["overdue"],
        open_only=data["open"],
        sort=data["sort"] or "-created",
    )
    if data["format"]:
        from referloop.referrals.sheet import sheet_response

        # The sheet names clients: only the agency's own sent referrals go in it (audited there).
        return sheet_response(
            rows,
            data["format"],
            agency=request.agency,
            request=request,
            filename=f"referrals-{timezone.localdate().isoformat()}",
        )
    page = Paginator(rows.defer(*selectors.LIST_PAGE_DEFERRED), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    audit_record(
        action="list",
        request=request,
        object_type="referrals.referral",
        detail={"direction": direction, "page": page.number},
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/list.html",
        {
            "form": form,
            "page": page,
            "direction": direction,
            "query": query.urlencode(),
            "statuses": Status.choices,
            "selected_statuses": data["status"],
        },
    )


def _packets_with_release(referral) -> list:
    """The referral's packets, each with whether its PDF may be downloaded now (`release`): a
    download is a new disclosure, so a page offers it only while the consent still covers it."""
    stored = list(
        referral.packets.select_related("consent__recipient_organization").order_by("-created_at")
    )
    for packet in stored:
        packet.referral = referral
        packet.release = stored_packet_check(packet=packet)
    return stored


def _now():
    return timezone.now()


# --- new referral: one flow ----------------------------------------------------------------------


def _need_terms():
    return list(
        TaxonomyTerm.objects.filter(taxonomy__name=NEEDS, parent__isnull=True).order_by("name")
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def referral_create(request):
    """Client (find or record) -> service (from a directory search) -> the referral form with
    the consent check -> save as draft or send now."""
    client = None
    if request.GET.get("client", "").isdigit():
        client = get_for_user_or_404(Client, request, pk=int(request.GET["client"]))
    if client is None:
        query = request.GET.get("q", "").strip()[:200]
        found = client_selectors.client_search(agency=request.agency, text=query) if query else []
        return render(request, "referrals/create_client.html", {"query": query, "found": found})
    service = organization = None
    if request.GET.get("service", "").isdigit():
        service = get_for_user_or_404(
            Service.objects.select_related("organization"), request, pk=int(request.GET["service"])
        )
        organization = service.organization
    elif request.GET.get("organization", "").isdigit():
        organization = get_for_user_or_404(
            Organization, request, pk=int(request.GET["organization"])
        )
    if organization is None:
        return redirect(f"{reverse('directory:search')}?refer_client={client.pk}")
    consents = [
        consent
        for consent in client_selectors.client_consents(client=client)
        if consent.state_at() == "in force"
        and client_selectors.consent_covers_recipient(consent, organization)
    ]
    terms = _need_terms()
    initial = {
        "owner": str(request.user.pk),
        "consent": str(consents[0].pk) if consents else "",
        "contact_email": (service.email if service else "") or organization.email,
        "needs": [
            term.code for term in service.terms.all() if term.taxonomy_id == terms[0].taxonomy_id
        ]
        if service and terms
        else [],
    }
    form = ReferralForm(
        request.POST or None,
        initial=initial,
        agency=request.agency,
        consents=consents,
        need_terms=terms,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            referral = services.referral_create(
                agency=request.agency,
                actor=_actor(request),
                data=ReferralData(
                    client=client,
                    organization=organization,
                    service=service,
                    owner=User.objects.filter(pk=int(data["owner"])).first(),
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"],
                    contact_phone=data["contact_phone"],
                    needs=[form.need_terms[code] for code in data["needs"]],
                    reason=data["reason"],
                    urgency=data["urgency"],
                    consent=data["consent"],
                    categories=tuple(data["categories"]),
                ),
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if "send" in request.POST:
                return _send_and_report(request, referral)
            messages.success(request, f"Draft {referral.tracking_id} saved.")
            return redirect("referrals:detail", pk=referral.pk)
    audit_record(action="view", request=request, obj=client, detail={"form": "new referral"})
    return render(
        request,
        "referrals/create.html",
        {
            "form": form,
            "client": client,
            "safe_contact": safe_contact_rules(client),
            "service": service,
            "organization": organization,
            "has_consent": bool(consents),
            "consent_url": f"{reverse('clients:consent_create', kwargs={'pk': client.pk})}"
            f"?organization={organization.pk}&next={request.get_full_path()}",
        },
        status=400 if form.errors else 200,
    )


def _send_and_report(request, referral, version=None):
    try:
        sent = services.referral_send(
            referral=referral, actor=_actor(request), version=version, request=request
        )
    except DomainError as error:
        messages.error(request, f"Not sent: {error.message}")
    else:
        where = (
            f"to {sent.receiving_agency}'s Referloop inbox"
            if sent.receiving_agency_id
            else f"by e-mail to {sent.contact_email} with a reply link"
        )
        messages.success(request, f"Referral {sent.tracking_id} sent {where}.")
    return redirect("referrals:detail", pk=referral.pk)


# --- detail and actions --------------------------------------------------------------------------


def _referral(request, pk) -> Referral:
    referral = get_for_user_or_404(
        Referral.objects.select_related("client", "organization", "service", "owner", "consent"),
        request,
        pk=pk,
    )
    return selectors.with_viewer_agency(referral, request.agency)


def _is_receiver(request, referral) -> bool:
    return referral.agency_id != request.agency.pk


def _dispositions(agency, kinds):
    return list(DispositionCode.objects.for_agency(agency).filter(is_active=True, kind__in=kinds))


def _detail_context(request, referral, **forms) -> dict:
    receiver = _is_receiver(request, referral)
    allowed = sorted(TRANSITIONS[referral.status] - {Status.REQUESTED})  # sending is its own form
    if not receiver and referral.receiving_agency_id:
        allowed = [s for s in allowed if s not in services.RECEIVER_MOVES]
    if receiver:
        allowed = [s for s in allowed if s in services.RECEIVER_MOVES]
    now = _now()
    latest_packet = referral.packets.order_by("-created_at").first()
    context = {
        "referral": referral,
        "receiver": receiver,
        "timeline": selectors.referral_timeline(referral=referral, for_receiver=receiver),
        "is_overdue": referral.next_due_at is not None and referral.next_due_at <= now,
        "is_escalated": referral.next_due_at is not None
        and referral.next_due_at <= escalation_threshold(referral.agency, now),
        "transition_form": forms.get("transition_form")
        or TransitionForm(
            initial={"version": referral.version},
            allowed=allowed,
            dispositions=_dispositions(
                referral.agency,
                [DispositionKind.OUTCOME, DispositionKind.NOT_ACCEPTED, DispositionKind.BOTH],
            ),
        ),
        "allowed": allowed,
        "answer_form": forms.get("answer_form")
        or AnswerForm(
            not_accepted_codes=_dispositions(
                referral.agency, [DispositionKind.NOT_ACCEPTED, DispositionKind.BOTH]
            )
        ),
        "follow_up_form": forms.get("follow_up_form")
        or FollowUpForm(initial={"version": referral.version}),
        "note_form": NoteForm(),
        "reassign_form": ReassignForm(
            initial={"owner": str(referral.owner_id), "version": referral.version},
            agency=referral.agency,
        )
        if not receiver
        else None,
        "bounce_form": forms.get("bounce_form") or BounceResolveForm(),
        "packets": _packets_with_release(referral) if not receiver else [],
        "packet": packet_data(latest_packet) if receiver and latest_packet else None,
        "latest_packet": latest_packet,
        "chain": selectors.referral_chain(referral=referral) if not receiver else [],
        "closed": referral.status in CLOSED,
        "needs_rerefer": referral.status == Status.REJECTED
        and referral.bounce_resolved_at is None
        and not receiver,
        "safe_contact": safe_contact_rules(referral.client) if not receiver else [],
        # The FHIR export: offered only when the consent lets the referral go now.
        "fhir_export": not receiver
        and referral.status != Status.DRAFT
        and bool(referral_packet_check(referral=referral)),
    }
    return context


@agency_member_required(Perm.VIEW)
@require_safe
def referral_detail(request, pk):
    referral = _referral(request, pk)
    context = _detail_context(request, referral)
    if context["receiver"] and context["packet"] is not None:
        # Showing the packet to the receiving agency is a disclosure: the same gate and ledger
        # as its packet page (consent checked now, a ledger row at most once a day).
        release = release_packet(
            packet=context["latest_packet"], agency=request.agency, by=request.user, as_pdf=False
        )
        if not release:
            context["packet"] = None
            context["withheld"] = release.decision.reason
    audit_record(action="view", request=request, obj=referral)
    return render(request, "referrals/detail.html", context)


def _redirect_detail(referral):
    return redirect(f"{reverse('referrals:detail', kwargs={'pk': referral.pk})}#next-action")


def _rerender(request, referral, **forms):
    return render(
        request, "referrals/detail.html", _detail_context(request, referral, **forms), status=400
    )


def _form_action(request, referral, form, *, form_key: str, perform, done):
    """One detail-page form: `perform(cleaned_data)` calls the service; success goes back to the
    next action with `done(result)` as the message, a conflict tells the person to reload, and
    any other refusal shows the form again with the message next to its field."""
    if form.is_valid():
        try:
            result = perform(form.cleaned_data)
        except DomainError as error:
            if error.code == "conflict":
                messages.error(request, error.message)
                return _redirect_detail(referral)
            apply_domain_error(form, error)
        else:
            messages.success(request, done(result))
            return _redirect_detail(referral)
    return _rerender(request, referral, **{form_key: form})


@agency_member_required(Perm.WRITE)
@require_POST
def referral_send(request, pk):
    referral = _referral(request, pk)
    if _is_receiver(request, referral):
        raise Http404
    version = request.POST.get("version", "")
    return _send_and_report(request, referral, int(version) if version.isdigit() else None)


@agency_member_required(Perm.WRITE)
@require_POST
def referral_transition(request, pk):
    referral = _referral(request, pk)
    form = TransitionForm(
        request.POST,
        allowed=_detail_context(request, referral)["allowed"],
        dispositions=_dispositions(
            referral.agency,
            [DispositionKind.OUTCOME, DispositionKind.NOT_ACCEPTED, DispositionKind.BOTH],
        ),
    )
    return _form_action(
        request,
        referral,
        form,
        form_key="transition_form",
        perform=lambda data: services.referral_transition(
            referral=referral,
            actor=_actor(request),
            to_status=data["status"],
            disposition=data["disposition"] or None,
            reason=data["reason"],
            note=data["note"],
            version=data["version"],
            request=request,
        ),
        done=lambda updated: f"Now {updated.get_status_display().lower()}.",
    )


@agency_member_required(Perm.WRITE)
@require_POST
def referral_answer(request, pk):
    """What the partner said (by phone, or the receiving agency's own answer)."""
    referral = _referral(request, pk)
    form = AnswerForm(
        request.POST,
        not_accepted_codes=_dispositions(
            referral.agency, [DispositionKind.NOT_ACCEPTED, DispositionKind.BOTH]
        ),
    )
    return _form_action(
        request,
        referral,
        form,
        form_key="answer_form",
        perform=lambda data: services.referral_partner_answer(
            referral=referral,
            actor=_actor(request),
            answer=data["answer"],
            disposition=data["disposition"],
            note=data["note"],
            request=request,
        ),
        done=lambda _: "Recorded.",
    )


@agency_member_required(Perm.WRITE)
@require_POST
def referral_follow_up(request, pk):
    referral = _referral(request, pk)
    if _is_receiver(request, referral):
        raise Http404
    return _form_action(
        request,
        referral,
        FollowUpForm(request.POST),
        form_key="follow_up_form",
        perform=lambda data: services.referral_follow_up_log(
            referral=referral,
            actor=_actor(request),
            channel=data["channel"],
            note=data["note"],
            version=data["version"],
            request=request,
        ),
        done=lambda _: "Follow-up logged; the next one is due in a week.",
    )


@agency_member_required(Perm.WRITE)
@require_POST
def referral_note(request, pk):
    referral = _referral(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.referral_note_add(
                referral=referral,
                actor=_actor(request),
                note=form.cleaned_data["note"],
                request=request,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Note added.")
    else:
        messages.error(request, "Write a note first.")
    return _redirect_detail(referral)


@agency_member_required(Perm.WRITE)
@require_POST
def referral_reassign(request, pk):
    referral = _referral(request, pk)
    if _is_receiver(request, referral):
        raise Http404
    form = ReassignForm(request.POST, agency=referral.agency)
    if form.is_valid():
        try:
            updated = services.referral_reassign(
                referral=referral,
                actor=_actor(request),
                owner=User.objects.get(pk=int(form.cleaned_data["owner"])),
                version=form.cleaned_data["version"],
                request=request,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{updated.owner} now owns this referral.")
    else:
        messages.error(request, "Choose a member of the agency.")
    return _redirect_detail(referral)


@agency_member_required(Perm.WRITE)
@require_POST
def referral_bounce_resolve(request, pk):
    referral = _referral(request, pk)
    if _is_receiver(request, referral):
        raise Http404
    return _form_action(
        request,
        referral,
        BounceResolveForm(request.POST),
        form_key="bounce_form",
        perform=lambda data: services.referral_bounce_resolve(
            referral=referral, actor=_actor(request), note=data["note"]
        ),
        done=lambda _: "Noted: no new referral needed.",
    )
