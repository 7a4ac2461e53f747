"""The FHIR REST surface at /fhir/ (application/fhir+json): the CapabilityStatement, Task read,
update and search (the IG's "checking task status" by polling), ServiceRequest read, and a
transaction Bundle POST that brings a referral in. Authenticated by the API's bearer tokens,
scoped to the token's agency, audited; every refusal is an OperationOutcome saying why."""

import json
from contextlib import suppress
from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryResponse, BundleLink
from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementRest,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
)
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue

from referloop.core.access import agency_member_required, permission_denied_record
from referloop.core.audit import audit_record
from referloop.core.permissions import Perm, has_perm
from referloop.core.scoping import access_denied_record, get_for_user_or_404
from referloop.core.selectors import api_token_authenticate
from referloop.core.services import api_token_touch
from referloop.fhir import codes, resources, selectors, services
from referloop.fhir.importer import bundle_import
from referloop.fhir.services import FhirError
from referloop.referrals.models import Referral, Status
from referloop.referrals.services import Actor

MAX_BODY = 2_000_000
SEARCH_PAGE = 50
# Task.status -> our referral statuses it stands for (a search by status).
REFERRAL_STATUSES = {
    status: {s for s in Status.values if codes.referral_task_status(s)[0] == status}
    for status in codes.TASK_STATUSES
}


def _fhir(resource, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(
        resources.as_json(resource), status=status, content_type=codes.FHIR_JSON
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _outcome(error: FhirError) -> HttpResponse:
    issue = OperationOutcomeIssue(
        severity="error",
        code=error.code,
        diagnostics=error.diagnostics,
        expression=[error.expression] if error.expression else None,
    )
    return _fhir(OperationOutcome(issue=[issue]), error.status)


def _problems_outcome(problems, status: int) -> HttpResponse:
    severity = {"error": "error", "warning": "warning", "default": "information"}
    outcome = OperationOutcome(
        issue=[
            OperationOutcomeIssue(
                severity=severity.get(problem.severity, "error"),
                code="invalid" if problem.severity == "error" else "informational",
                diagnostics=problem.reason,
                expression=[problem.field] if problem.field else None,
            )
            for problem in problems
        ]
        or [OperationOutcomeIssue(severity="information", code="informational")]
    )
    return _fhir(outcome, status)


def fhir_endpoint(perm: Perm | None):
    """Bearer token → the token's user and agency (as the API); a role without `perm` is
    refused; every FhirError becomes its OperationOutcome."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                if perm is not None:
                    _authenticate(request, perm)
                return view(request, *args, **kwargs)
            except FhirError as error:
                return _outcome(error)

        return wrapped

    return decorate


def _authenticate(request, perm: Perm) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = api_token_authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise FhirError(401, "login", "Authenticate with 'Authorization: Bearer <token>'.")
    request.user, request.agency, request.membership = token.user, token.agency, token.membership
    api_token_touch(token=token)
    if not has_perm(request.membership, perm):
        permission_denied_record(request, perm)
        raise FhirError(403, "forbidden", f"Your role may not do this (needs '{perm}').")


def _body(request):
    if len(request.body) > MAX_BODY:
        raise FhirError(413, "too-costly", "The body is larger than 2 MB.")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise FhirError(400, "structure", "The body is not JSON.") from None


def _method_not_allowed(allowed: str) -> FhirError:
    return FhirError(405, "not-supported", f"Allowed here: {allowed}.")


# --- the capability statement -----------------------------------------------------------------


@fhir_endpoint(None)
def metadata(request):
    if request.method != "GET":
        raise _method_not_allowed("GET")

    def interactions(*names):
        return [CapabilityStatementRestResourceInteraction(code=name) for name in names]

    statement = CapabilityStatement(
        status="active",
        date=timezone.now(),
        kind="instance",
        software=CapabilityStatementSoftware(name="Referloop"),
        fhirVersion="4.0.1",
        format=[codes.FHIR_JSON, "json"],
        rest=[
            CapabilityStatementRest(
                mode="server",
                security=CapabilityStatementRestSecurity(
                    description="Authorization: Bearer <token> (referloop token create)."
                ),
                interaction=[{"code": "transaction"}],
                resource=[
                    CapabilityStatementRestResource(
                        type="Task",
                        supportedProfile=[codes.TASK_PROFILE],
                        interaction=interactions("read", "update", "search-type"),
                        searchParam=[
                            CapabilityStatementRestResourceSearchParam(name="status", type="token"),
                            CapabilityStatementRestResourceSearchParam(
                                name="_lastUpdated", type="date"
                            ),
                            CapabilityStatementRestResourceSearchParam(
                                name="_count", type="number"
                            ),
                        ],
                    ),
                    CapabilityStatementRestResource(
                        type="ServiceRequest",
                        supportedProfile=[codes.SERVICE_REQUEST_PROFILE],
                        interaction=interactions("read"),
                    ),
                ],
            )
        ],
    )
    return _fhir(statement)


# --- Task ----------------------------------------------------------------------------------------


def _task_of(request, resource_id: str):
    """The referral or inbound referral behind a Task id of the token's agency, else 404."""
    user, agency = request.user, request.agency
    referral = selectors.referral_by_resource_id(user, agency, resource_id)
    if referral is not None:
        return referral, None
    inbound = selectors.inbound_by_resource_id(user, agency, resource_id)
    if inbound is not None:
        return None, inbound
    access_denied_record(request, object_type="fhir.task", object_id=resource_id[:64])
    raise FhirError(404, "not-found", f"No Task or ServiceRequest '{resource_id[:64]}' here.")


def _released(request, inbound) -> None:
    decision = services.answers_release(inbound=inbound, by=request.user)
    if not decision:
        raise FhirError(403, "security", f"Consent needed: {decision.reason}")


def _task_resource(request, referral, inbound):
    agency = request.agency
    own = selectors.own_organization(agency)
    if referral is not None:
        return resources.referral_task(
            referral,
            own_organization=own,
            part_of=selectors.parent_tasks([referral]).get(referral.pk),
        )
    _released(request, inbound)
    return resources.inbound_task(inbound, own_organization=own, received=inbound.fhir)


@fhir_endpoint(Perm.VIEW)
def task(request, resource_id: str):
    if request.method == "GET":
        referral, inbound = _task_of(request, resource_id)
        resource = _task_resource(request, referral, inbound)
        audit_record(
            action="view", request=request, obj=referral or inbound, detail={"fhir": "Task"}
        )
        return _fhir(resource, ETag=f'W/"{resource.meta.versionId}"')
    if request.method == "PUT":
        if not has_perm(request.membership, Perm.WRITE):
            raise FhirError(403, "forbidden", "Your role may not do this (needs 'write').")
        referral, inbound = _task_of(request, resource_id)
        change = services.task_change_read(_body(request), task_id=resource_id)
        match = request.headers.get("If-Match", "").removeprefix("W/").strip('"')
        if match.isdigit():
            change = services.TaskChange(**{**change.__dict__, "version": int(match)})
        if referral is not None:
            referral = services.referral_task_update(
                referral=referral,
                change=change,
                actor=Actor(user=request.user, agency=request.agency),
                request=request,
            )
            referral = selectors.referral_by_resource_id(request.user, request.agency, resource_id)
        else:
            inbound = services.inbound_task_update(
                inbound=inbound, change=change, actor=request.user, request=request
            )
            inbound = selectors.inbound_by_resource_id(request.user, request.agency, resource_id)
        resource = _task_resource(request, referral, inbound)
        return _fhir(resource, ETag=f'W/"{resource.meta.versionId}"')
    raise _method_not_allowed("GET, PUT")


def _since(value: str) -> datetime | None:
    if not value:
        return None
    if not value.startswith("gt"):
        raise FhirError(
            400, "not-supported", "Only _lastUpdated=gt<instant> is supported.", "_lastUpdated"
        )
    moment = None
    with suppress(ValueError):
        moment = parse_datetime(value[2:])
    if moment is None or timezone.is_naive(moment):
        raise FhirError(
            400,
            "value",
            f"'{value[2:40]}' is not an instant with a time zone (e.g. 2026-03-01T00:00:00Z).",
            "_lastUpdated",
        )
    return moment


@fhir_endpoint(Perm.VIEW)
def task_search(request):
    if request.method != "GET":
        raise _method_not_allowed("GET")
    since = _since(request.GET.get("_lastUpdated", ""))
    wanted = [s for s in request.GET.get("status", "").split(",") if s]
    unknown = [s for s in wanted if s not in codes.TASK_STATUSES]
    if unknown:
        raise FhirError(400, "code-invalid", f"'{unknown[0][:40]}' is not a Task status.", "status")
    count = request.GET.get("_count", str(SEARCH_PAGE))
    if not count.isdigit() or not 1 <= int(count) <= 200:
        raise FhirError(400, "value", "_count is a number from 1 to 200.", "_count")
    limit = int(count)
    statuses = (
        set().union(*(REFERRAL_STATUSES[s] for s in wanted))
        if wanted
        else set(Status.values) - {Status.DRAFT}
    )
    referrals, inbounds = selectors.tasks_changed(
        request.user, request.agency, since=since, referral_statuses=statuses, limit=limit
    )
    own = selectors.own_organization(request.agency)
    parents = selectors.parent_tasks(referrals)
    found = [
        (r.updated_at, resources.referral_task(r, own_organization=own, part_of=parents.get(r.pk)))
        for r in referrals
    ]
    withheld = 0
    for inbound in inbounds:
        if not services.answers_release(inbound=inbound, by=request.user):
            withheld += 1
            continue
        resource = resources.inbound_task(inbound, own_organization=own, received=inbound.fhir)
        if not wanted or resource.status in wanted:
            found.append((inbound.updated_at, resource))
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    page, more = (
        found[:limit],
        len(found) > limit or len(referrals) > limit or len(inbounds) > limit,
    )
    links = [BundleLink(relation="self", url=request.build_absolute_uri())]
    if more and page:
        query = {**request.GET.dict(), "_lastUpdated": f"gt{page[-1][0].isoformat()}"}
        links.append(
            BundleLink(relation="next", url=request.build_absolute_uri(f"?{urlencode(query)}"))
        )
    entries = [
        BundleEntry(
            fullUrl=request.build_absolute_uri(f"/fhir/Task/{resource.id}"),
            resource=resource,
            search={"mode": "match"},
        )
        for _, resource in page
    ]
    if withheld:
        entries.append(
            BundleEntry(
                resource=OperationOutcome(
                    issue=[
                        OperationOutcomeIssue(
                            severity="information",
                            code="suppressed",
                            diagnostics=f"{withheld} Task(s) withheld: no consent covers telling "
                            "their requester.",
                        )
                    ]
                ),
                search={"mode": "outcome"},
            )
        )
    audit_record(
        action="list",
        request=request,
        object_type="fhir.task",
        detail={"count": len(page), "withheld": withheld},
    )
    return _fhir(Bundle(type="searchset", total=len(page), link=links, entry=entries or None))


# --- ServiceRequest ----------------------------------------------------------------------------


@fhir_endpoint(Perm.VIEW)
def service_request(request, resource_id: str):
    if request.method != "GET":
        raise _method_not_allowed("GET")
    referral, inbound = _task_of(request, resource_id)
    if referral is not None:
        # The partner has the referral's details (the packet, under its consent): the
        # request alone says what was asked, never the reason in our words.
        resource = resources.referral_service_request(
            selectors.referral_for_export(referral.pk),
            categories=[],
            own_organization=selectors.own_organization(request.agency),
        )
    else:
        _released(request, inbound)
        resource = resources.inbound_service_request(inbound, received=inbound.fhir)
    audit_record(
        action="view", request=request, obj=referral or inbound, detail={"fhir": "ServiceRequest"}
    )
    return _fhir(resource)


# --- the referral page's download -----------------------------------------------------------------


@agency_member_required(Perm.VIEW)
@require_safe
def referral_bundle_download(request, pk: int):
    """The referral page's "FHIR Bundle": the export, for a person to hand to the partner's
    system (the consent checked now, the disclosure ledgered)."""
    referral = get_for_user_or_404(Referral.objects.filter(agency=request.agency), request, pk=pk)
    try:
        bundle = services.referral_export(referral=referral, by=request.user)
    except FhirError as error:
        return HttpResponse(error.diagnostics, status=error.status, content_type="text/plain")
    audit_record(action="export", request=request, obj=referral, detail={"format": "fhir"})
    response = HttpResponse(resources.as_json(bundle), content_type=codes.FHIR_JSON)
    response["Content-Disposition"] = f'attachment; filename="{referral.tracking_id}.fhir.json"'
    return response


# --- a transaction Bundle: a referral to us ------------------------------------------------------


@fhir_endpoint(Perm.WRITE)
def transaction(request):
    if request.method != "POST":
        raise _method_not_allowed("POST")
    if len(request.body) > MAX_BODY:
        raise FhirError(413, "too-costly", "The body is larger than 2 MB.")
    result = bundle_import(
        agency=request.agency,
        actor=request.user,
        raw=request.body,
        name="request body",
        request=request,
    )
    report = result.report
    if result.inbound is None:
        return _problems_outcome(report.problems, 422 if report.read else 400)
    inbound = result.inbound
    status = "201 Created" if result.created else "200 OK"
    notes = [p for p in report.problems if p.severity != "error"]
    entries = [
        BundleEntry(
            response=BundleEntryResponse(
                status=status,
                location=f"{kind}/{resources.inbound_id(inbound)}",
                outcome=OperationOutcome(
                    issue=[
                        OperationOutcomeIssue(
                            severity="warning" if p.severity == "warning" else "information",
                            code="informational",
                            diagnostics=p.reason,
                            expression=[p.field] if p.field else None,
                        )
                        for p in notes
                    ]
                )
                if notes and kind == "Task"
                else None,
            )
        )
        for kind in ("ServiceRequest", "Task")
    ]
    return _fhir(Bundle(type="transaction-response", entry=entries), 201 if result.created else 200)
