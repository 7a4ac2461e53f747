"""A referral that comes as FHIR: a Bundle holding a ServiceRequest and the Task that asks us to
fulfil it (the SDOH Clinical Care IG's shape), with the Patient, the requester and, if given,
the patient's Consent. Read through the shared import framework: every problem is a Problem
(the REST surface answers them as an OperationOutcome), and nothing is written unless the
whole Bundle is understood.

What it becomes: an inbound referral (origin "FHIR") from the requesting organization (matched
in the network's directory by name, or added to it), for a client matched by name and date of
birth or created; the Consent recorded as received (letting us tell the requester how it went:
identity and housing, until its end date). A Bundle sent again -- the same identifiers, or our
own export of it -- changes nothing.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from fhir.resources import R4B
from pydantic import ValidationError

from referloop.clients.models import Category, Consent, Signer
from referloop.clients.selectors import SAME_NAME_AND_BIRTH, client_possible_duplicates
from referloop.clients.services import ClientData, ConsentData, client_create, consent_record
from referloop.core.errors import DomainError
from referloop.core.imports.readers import decode, read_bytes
from referloop.core.imports.report import DEFAULT, WARNING, ImportReport, InputError, Problem
from referloop.core.imports.run import import_transaction, stable_id
from referloop.core.timeutils import agency_today
from referloop.directory.models import Organization
from referloop.fhir import codes
from referloop.fhir.models import ReceivedIdentifier, ReceivedReferral
from referloop.partners.services import partner_organization_create
from referloop.stays.models import InboundReferral, Origin
from referloop.stays.services import InboundData, inbound_create

TABLE = "inbound referrals"
SENDER_SYSTEM = "urn:referloop:sender-id"  # a sender's own ids, when it gave no identifier
ANSWER_CATEGORIES = [Category.IDENTITY, Category.HOUSING]  # what our Task answers reveal


@dataclass
class Parsed:
    """The resources of the Bundle that matter, each as a dict (the validated JSON)."""

    task: dict
    request: dict
    patient: dict
    requester: dict  # the Organization that asks
    requester_person: str = ""  # the practitioner's name, if the requester is one
    consent: dict | None = None
    problems: list = field(default_factory=list)


@dataclass
class Imported:
    report: ImportReport
    inbound: InboundReferral | None = None
    created: bool = False


def bundle_import(
    *,
    agency,
    actor,
    path: str | Path | None = None,
    raw: bytes | None = None,
    name: str = "",
    dry_run: bool = False,
    request=None,
) -> Imported:
    name = name or (Path(path).name if path is not None else "bundle.json")
    report = ImportReport(source=name, title="FHIR referral import", dry_run=dry_run)
    result = Imported(report)
    try:
        data = read_bytes(Path(path), name) if raw is None else raw
        text = decode(data, name, report.problems)
    except InputError as error:
        report.problems.append(error.problem)
        return result
    parsed = _parse(text, report)
    if parsed is None:
        return result
    existing = _already_received(agency, parsed)
    if existing is not None:
        report.count(TABLE).unchanged += 1
        report.notes.append(f"Already received as {existing.tracking_id}: nothing changed.")
        result.inbound = existing
        return result
    _check_addressee(agency, parsed, report)
    if not report.ok:
        return result
    with import_transaction(report):
        try:
            result.inbound = _record(agency, actor, parsed, report, request=request)
            result.created = True
        except DomainError as error:
            report.problems.append(Problem(report.source, None, error.field or "", error.message))
    if not report.written:
        result.inbound, result.created = None, False
    return result


# --- reading -------------------------------------------------------------------------------------


def _problem(report, where: str, reason: str, severity="error", value="") -> None:
    report.problems.append(Problem(report.source, None, where, reason, severity, value))


def _parse(text: str, report: ImportReport) -> Parsed | None:
    try:
        bundle = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        _problem(
            report,
            "",
            f"not JSON ({error})" if not isinstance(error, RecursionError) else "nested too deeply",
        )
        return None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        _problem(report, "resourceType", "expected a FHIR Bundle (resourceType 'Bundle')")
        return None
    report.read = 1  # a Bundle: what is wrong with it is its content (422), not its form
    if bundle.get("type") not in ("transaction", "batch", "collection", "message"):
        _problem(
            report, "type", f"a Bundle of type '{str(bundle.get('type'))[:40]}' holds no referral"
        )
        return None
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        _problem(report, "entry", "the Bundle has no entries")
        return None
    resources = _resources(entries, report)
    if not report.ok:
        return None
    return _referral(resources, report)


def _resources(entries: list, report: ImportReport) -> dict[str, dict]:
    """{reference: resource} for every entry (by fullUrl and by Type/id), each validated as the
    FHIR resource its resourceType names."""
    found: dict[str, dict] = {}
    for index, entry in enumerate(entries):
        where = f"entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            _problem(report, where, "an entry without a resource")
            continue
        kind = resource.get("resourceType")
        try:
            model = R4B.get_fhir_model_class(str(kind))
        except (KeyError, ValueError, AttributeError):
            _problem(
                report, f"{where}.resourceType", f"'{str(kind)[:40]}' is not a FHIR resource type"
            )
            continue
        try:
            model.model_validate(resource)
        except ValidationError as error:
            for detail in error.errors()[:5]:
                path = ".".join(str(part) for part in detail["loc"])
                _problem(report, f"{where}.resource.{path}", f"{kind}: {detail['msg']}")
            continue
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            _problem(
                report, f"{where}.resource", f"{kind}: {str(error)[:200] or 'nested too deeply'}"
            )
            continue
        if resource.get("id"):
            found[f"{kind}/{resource['id']}"] = resource
        if isinstance(entry.get("fullUrl"), str):
            found[entry["fullUrl"]] = resource
            tail = "/".join(entry["fullUrl"].rstrip("/").split("/")[-2:])
            found.setdefault(tail, resource)
    return found


def _resolve(resources, reference, kind_expected, report, where) -> dict | None:
    value = (reference or {}).get("reference") if isinstance(reference, dict) else None
    if not value:
        _problem(report, where, f"missing: it must reference a {' or '.join(kind_expected)}")
        return None
    target = _target(resources, value)
    if target is None:
        _problem(report, where, f"references '{value[:100]}', which is not in the Bundle")
        return None
    if target["resourceType"] not in kind_expected:
        _problem(
            report,
            where,
            f"references a {target['resourceType']}, not a {' or '.join(kind_expected)}",
        )
        return None
    return target


def _present(resources, reference, report, where) -> None:
    """A reference we do not follow must still lead somewhere in the Bundle."""
    value = reference.get("reference") if isinstance(reference, dict) else None
    if value and not value.startswith("#") and _target(resources, value) is None:
        _problem(report, where, f"references '{value[:100]}', which is not in the Bundle")


def _target(resources, value: str) -> dict | None:
    return resources.get(value) or resources.get("/".join(value.split("/")[-2:]))


def _referral(resources: dict[str, dict], report: ImportReport) -> Parsed | None:
    tasks = {id(r): r for r in resources.values() if r["resourceType"] == "Task"}
    if not tasks:
        _problem(
            report, "entry", "no Task: a referral is a ServiceRequest with a Task to fulfil it"
        )
        return None
    top = [t for t in tasks.values() if not t.get("partOf")] or list(tasks.values())
    if len(top) > 1:
        _problem(report, "entry", f"{len(top)} Tasks: send one referral per Bundle")
        return None
    task = top[0]
    status = task.get("status")
    if status not in codes.TASK_STATUSES:
        _problem(
            report,
            "Task.status",
            f"'{str(status)[:40]}' is not in the SDOHCC referral Task statuses "
            f"({', '.join(sorted(codes.TASK_STATUSES))})",
        )
    elif status in codes.FINAL:
        _problem(report, "Task.status", f"a Task that is '{status}' asks nothing of us")
    elif status != "requested":
        _problem(
            report,
            "Task.status",
            f"'{status}' as sent: a new referral starts here as requested",
            DEFAULT,
        )
    service_request = _resolve(
        resources, task.get("focus"), ["ServiceRequest"], report, "Task.focus"
    )
    patient = _resolve(resources, task.get("for"), ["Patient"], report, "Task.for")
    requester = _resolve(
        resources,
        task.get("requester") or (service_request or {}).get("requester"),
        ["Organization", "PractitionerRole", "Practitioner"],
        report,
        "Task.requester",
    )
    if service_request is not None:
        subject = _resolve(
            resources, service_request.get("subject"), ["Patient"], report, "ServiceRequest.subject"
        )
        if subject is not None and patient is not None and subject is not patient:
            _problem(report, "ServiceRequest.subject", "names another Patient than the Task")
        for index, reason in enumerate(service_request.get("reasonReference") or []):
            _present(resources, reason, report, f"ServiceRequest.reasonReference[{index}]")
    person = ""
    if requester is not None and requester["resourceType"] == "PractitionerRole":
        person = (requester.get("practitioner") or {}).get("display", "")
        requester = _resolve(
            resources,
            requester.get("organization"),
            ["Organization"],
            report,
            "PractitionerRole.organization",
        )
    elif requester is not None and requester["resourceType"] == "Practitioner":
        _problem(
            report,
            "Task.requester",
            "a practitioner without an organization: name the organization that refers "
            "(a PractitionerRole or an Organization)",
        )
        requester = None
    if requester is not None and not str(requester.get("name") or "").strip():
        _problem(report, "Organization.name", "the requesting organization has no name")
    if patient is not None:
        names = patient.get("name") or []
        if not names or not (names[0].get("family") and names[0].get("given")):
            _problem(
                report,
                "Patient.name",
                "the person's family and given names are needed to record the referral",
            )
    consents = [
        r for r in {id(r): r for r in resources.values()}.values() if r["resourceType"] == "Consent"
    ]
    if not report.ok:
        return None
    return Parsed(
        task=task,
        request=service_request,
        patient=patient,
        requester=requester,
        requester_person=person,
        consent=consents[0] if consents else None,
    )


# --- matching ------------------------------------------------------------------------------------


def _identifiers(parsed: Parsed) -> list[tuple[str, str]]:
    """(system, value) of the ServiceRequest and Task identifiers; or, when the sender gave
    none, its own resource ids (under the requester's name)."""
    found = []
    for resource in (parsed.request, parsed.task):
        for identifier in resource.get("identifier") or []:
            if identifier.get("system") and identifier.get("value"):
                found.append((identifier["system"][:500], str(identifier["value"])[:200]))
    if not found:
        requester = str(parsed.requester.get("name", ""))
        for resource in (parsed.request, parsed.task):
            if resource.get("id"):
                key = stable_id(requester, resource["resourceType"], resource["id"])
                found.append((SENDER_SYSTEM, key))
    return found


def _already_received(agency, parsed: Parsed) -> InboundReferral | None:
    identifiers = _identifiers(parsed)
    ours = codes.inbound_system(agency)
    tracking = [value for system, value in identifiers if system == ours]
    if tracking:
        found = InboundReferral.objects.for_agency(agency).filter(tracking_id__in=tracking).first()
        if found is not None:
            return found
    rows = ReceivedIdentifier.objects.for_agency(agency).filter(
        system__in=[s for s, _ in identifiers], value__in=[v for _, v in identifiers]
    )
    pairs = set(identifiers)
    for row in rows.select_related("received__inbound"):
        if (row.system, row.value) in pairs:
            return row.received.inbound
    return None


def _check_addressee(agency, parsed: Parsed, report: ImportReport) -> None:
    """The Task must be for us: no owner (an open request), or one naming this agency."""
    owner = (parsed.task.get("owner") or {}).get("reference", "")
    slugs = {
        identifier.get("value")
        for identifier in (parsed.task.get("owner") or {}).get("identifier", [])
        if isinstance(identifier, dict) and identifier.get("system") == codes.AGENCY_SYSTEM
    }
    tail = owner.split("/")[-1] if owner else ""
    if tail.startswith("agency-"):
        slugs.add(tail.removeprefix("agency-"))
    elif tail:
        listing = (
            Organization.objects.filter(
                network_id=agency.network_id, hsds_id__in=[_uuid(tail)] if _uuid(tail) else []
            )
            .select_related("agency")
            .first()
        )
        if listing is not None and listing.agency_id and listing.agency_id != agency.pk:
            slugs.add(listing.agency.slug)
    others = slugs - {agency.slug}
    if others:
        _problem(
            report,
            "Task.owner",
            f"the Task is addressed to another agency ('{sorted(others)[0]}'), "
            f"not to {agency.name}",
        )


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _source_organization(agency, actor, parsed: Parsed, report: ImportReport):
    resource = parsed.requester
    name = " ".join(str(resource.get("name", "")).split())[:300]
    found = (
        Organization.objects.filter(network_id=agency.network_id, name__iexact=name)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    phones = [
        t.get("value", "")
        for t in resource.get("telecom") or []
        if isinstance(t, dict) and t.get("system") == "phone"
    ]
    website = next(
        (t.get("value", "") for t in resource.get("telecom") or [] if t.get("system") == "url"), ""
    )
    try:
        organization = partner_organization_create(
            agency=agency,
            actor=actor,
            name=name,
            website=website,
            phone=phones[0] if phones else "",
        )
    except DomainError:  # an odd phone or web address: keep the organization, say so
        organization = partner_organization_create(agency=agency, actor=actor, name=name)
        _problem(
            report,
            "Organization.telecom",
            "the requester's phone or web address could not be read: left out",
            WARNING,
        )
    report.count("directory organizations").created += 1
    report.notes.append(f"Added {name} to the network's directory (the requester).")
    return organization


def _client(agency, actor, parsed: Parsed, report: ImportReport, request):
    patient = parsed.patient
    name = patient["name"][0]
    first = " ".join(name["given"])[:100]
    last = str(name["family"])[:100]
    born = patient.get("birthDate") or ""
    if born and len(born) != 10:
        _problem(report, "Patient.birthDate", f"'{born}' is not a whole date: left out", WARNING)
        born = ""
    same = [
        d
        for d in client_possible_duplicates(
            agency=agency, first_name=first, last_name=last, date_of_birth=born
        )
        if d.why == SAME_NAME_AND_BIRTH
    ]
    if same:
        report.count("clients").unchanged += 1
        return same[0].client
    telecom = [t for t in patient.get("telecom") or [] if isinstance(t, dict)]
    phone = next((t.get("value", "") for t in telecom if t.get("system") in ("phone", "sms")), "")
    email = next((t.get("value", "") for t in telecom if t.get("system") == "email"), "")
    language = next(
        (
            (c.get("language") or {}).get("text")
            or next(iter((c.get("language") or {}).get("coding") or []), {}).get("display", "")
            for c in patient.get("communication") or []
        ),
        "",
    )
    client = client_create(
        agency=agency,
        actor=actor,
        data=ClientData(
            first_name=first,
            last_name=last,
            date_of_birth=born or None,
            phone=phone[:50],
            email=email[:254],
            preferred_language=(language or "")[:60],
        ),
        allow_duplicate=True,  # a similar name is not the same person: staff merge if it is
        request=request,
    )
    report.count("clients").created += 1
    return client


def _consent(client, actor, organization, parsed: Parsed, report, request) -> Consent | None:
    resource = parsed.consent
    if resource is None:
        _problem(
            report,
            "Consent",
            "no Consent: the referral is recorded, but we cannot tell the requester how it goes "
            "until the client's consent is recorded",
            WARNING,
        )
        return None
    if resource.get("status") != "active":
        _problem(
            report,
            "Consent.status",
            f"the Consent is '{resource.get('status')}', not active: not recorded",
            WARNING,
        )
        return None
    signed = resource.get("dateTime")
    signed_at = timezone.now()
    if signed:
        parsed_at = _instant(signed)
        if parsed_at is None or parsed_at > timezone.now():
            _problem(
                report,
                "Consent.dateTime",
                f"'{signed}' is not a past date-time: today is used",
                DEFAULT,
            )
        else:
            signed_at = parsed_at
    end = ((resource.get("provision") or {}).get("period") or {}).get("end")
    expires_on = _day(end) if end else None
    purpose = (
        next(
            (
                c.get("text")
                for c in resource.get("category") or []
                if isinstance(c, dict) and c.get("text")
            ),
            "",
        )
        or f"Closed-loop referral updates to {organization.name}"
    )
    consent = consent_record(
        client=client,
        actor=actor,
        data=ConsentData(
            categories=list(ANSWER_CATEGORIES),
            purpose=purpose[:300],
            signed_at=signed_at,
            signed_by_name=f"{client.first_name} {client.last_name}"[:200],
            signer=Signer.CLIENT,
            recipient_organization=organization,
            expires_on=expires_on,
            no_expiry=expires_on is None,
        ),
        request=request,
    )
    report.count("consents").created += 1
    return consent


def _instant(value: str):
    try:
        moment = parse_datetime(value) if "T" in value else None
    except ValueError:
        return None
    if moment is None:
        day = _day(value)
        return timezone.make_aware(timezone.datetime(day.year, day.month, day.day)) if day else None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _note(parsed: Parsed) -> str:
    request = parsed.request
    parts = [
        (request.get("code") or {}).get("text")
        or next((c.get("display", "") for c in (request.get("code") or {}).get("coding") or []), "")
    ]
    parts += [c.get("text", "") for c in request.get("reasonCode") or [] if isinstance(c, dict)]
    parts += [n.get("text", "") for n in request.get("note") or [] if isinstance(n, dict)]
    if parsed.requester_person:
        parts.append(f"Referred by {parsed.requester_person}.")
    return "\n".join(part for part in parts if part)[:4000]


def _record(agency, actor, parsed: Parsed, report: ImportReport, *, request) -> InboundReferral:
    organization = _source_organization(agency, actor, parsed, report)
    client = _client(agency, actor, parsed, report, request)
    consent = _consent(client, actor, organization, parsed, report, request)
    authored = _day(parsed.task.get("authoredOn") or "")
    today = agency_today(agency)
    inbound = inbound_create(
        agency=agency,
        actor=actor,
        data=InboundData(
            client=client,
            source_organization=organization,
            referred_on=min(authored, today) if authored else None,
            note=_note(parsed),
            origin=Origin.FHIR,
        ),
        request=request,
    )
    received = ReceivedReferral.objects.create(
        agency=agency,
        inbound=inbound,
        sender_request_id=str(parsed.request.get("id", ""))[:200],
        sender_task_id=str(parsed.task.get("id", ""))[:200],
        service_request=json.dumps({k: v for k, v in parsed.request.items() if k != "text"}),
        task=json.dumps({k: v for k, v in parsed.task.items() if k != "text"}),
        consent=consent,
    )
    ReceivedIdentifier.objects.bulk_create(
        [
            ReceivedIdentifier(agency=agency, received=received, system=system, value=value)
            for system, value in dict.fromkeys(_identifiers(parsed))
        ]
    )
    report.count(TABLE).created += 1
    return inbound
