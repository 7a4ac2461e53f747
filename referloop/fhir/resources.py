"""Our records as FHIR R4 resources (built with fhir.resources' R4B models, whose elements
used here are R4's): a referral we sent is a ServiceRequest and the SDOHCC "Task for referral
management" that tracks it; a referral made to us likewise, with us as the Task's owner. The
person is a Patient holding only what the consent covers; the partner, its service and their
locations come from the directory.

Resource ids on this server: `referral-<id>` (Task and ServiceRequest of a referral we sent),
`inbound-<id>` (of a referral made to us), `client-<id>`, `consent-<id>`; directory records
keep their HSDS UUID."""

import json

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.consent import Consent, ConsentProvision, ConsentProvisionActor
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.location import Location, LocationPosition
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient, PatientCommunication
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task, TaskOutput

from referloop.clients.models import Category
from referloop.fhir import codes
from referloop.referrals.models import Status, Urgency

PRIORITY = {Urgency.ROUTINE: "routine", Urgency.URGENT: "urgent", Urgency.EMERGENCY: "stat"}
NEED_SYSTEM = "urn:referloop:need"


def _text(value: str) -> CodeableConcept:
    return CodeableConcept(text=value)


def _ref(kind: str, id_: str, display: str = "") -> Reference:
    return Reference(reference=f"{kind}/{id_}", display=display or None)


def referral_id(referral) -> str:
    return f"referral-{referral.pk}"


def inbound_id(inbound) -> str:
    return f"inbound-{inbound.pk}"


def client_id(client) -> str:
    return f"client-{client.pk}"


def organization_id(organization) -> str:
    return str(organization.hsds_id)


def agency_organization_id(agency, own_organization) -> str:
    """The agency's own directory listing, or an Organization of the agency itself."""
    return organization_id(own_organization) if own_organization else f"agency-{agency.slug}"


# --- directory ---------------------------------------------------------------------------------


def organization_resource(organization) -> Organization:
    identifiers = []
    if organization.agency_id:
        identifiers.append(Identifier(system=codes.AGENCY_SYSTEM, value=organization.agency.slug))
    phones = [ContactPoint(system="phone", value=p.number) for p in organization.phones.all()]
    return Organization(
        id=organization_id(organization),
        identifier=identifiers or None,
        active=True,
        name=organization.name,
        alias=[organization.alternate_name] if organization.alternate_name else None,
        telecom=[
            *phones,
            *(
                [ContactPoint(system="email", value=organization.email)]
                if organization.email
                else []
            ),
            *(
                [ContactPoint(system="url", value=organization.website)]
                if organization.website
                else []
            ),
        ]
        or None,
    )


def agency_organization_resource(agency) -> Organization:
    """An agency that has no listing of its own in the directory."""
    return Organization(
        id=f"agency-{agency.slug}",
        identifier=[Identifier(system=codes.AGENCY_SYSTEM, value=agency.slug)],
        active=True,
        name=agency.name,
    )


def location_resource(location) -> Location:
    address = next(iter(location.addresses.all()), None)
    return Location(
        id=str(location.hsds_id),
        status="active",
        name=location.name or None,
        address=Address(
            line=[line for line in (address.address_1, address.address_2) if line],
            city=address.city,
            state=address.state_province or None,
            postalCode=address.postal_code or None,
            country=address.country or None,
        )
        if address
        else None,
        position=LocationPosition(latitude=location.latitude, longitude=location.longitude)
        if location.latitude is not None and location.longitude is not None
        else None,
        managingOrganization=_ref("Organization", organization_id(location.organization))
        if location.organization_id
        else None,
    )


def healthcare_service_resource(service) -> HealthcareService:
    return HealthcareService(
        id=str(service.hsds_id),
        active=service.status == "active",
        providedBy=_ref("Organization", organization_id(service.organization)),
        name=service.name,
        comment=service.description[:1000] or None,
        location=[
            _ref("Location", str(sal.location.hsds_id))
            for sal in service.service_at_locations.all()
        ]
        or None,
        telecom=[ContactPoint(system="phone", value=p.number) for p in service.phones.all()]
        or None,
    )


# --- the person ----------------------------------------------------------------------------------


def patient_resource(client, categories) -> Patient:
    """Only what the consent covers: name and birth date with "identity", a way to reach them
    (the safe one if there is one; nothing if they are not to be contacted) with "contact"."""
    patient = Patient(id=client_id(client))
    if Category.IDENTITY in categories:
        patient.name = [HumanName(family=client.last_name, given=[client.first_name])]
        if client.date_of_birth:
            patient.birthDate = client.date_of_birth
    if Category.CONTACT in categories and not client.do_not_contact:
        phone = client.safe_phone or client.phone
        email = client.safe_email or client.email
        telecom = [ContactPoint(system="phone", value=phone)] if phone else []
        telecom += [ContactPoint(system="email", value=email)] if email else []
        patient.telecom = telecom or None
        if client.preferred_language:
            patient.communication = [
                PatientCommunication(language=_text(client.preferred_language))
            ]
    return patient


def consent_resource(consent, *, recipient_reference: Reference | None) -> Consent:
    """The client's consent that the referral is shared under (42 CFR 2.31 / HIPAA elements)."""
    state = consent.state_at()
    return Consent(
        id=f"consent-{consent.pk}",
        status="active" if state == "in force" else "inactive",
        scope=CodeableConcept(
            coding=[
                Coding(
                    system="http://terminology.hl7.org/CodeSystem/consentscope",
                    code="patient-privacy",
                )
            ]
        ),
        category=[
            CodeableConcept(
                coding=[Coding(system="http://loinc.org", code="59284-0")],
                text=consent.purpose,
            )
        ],
        patient=_ref("Patient", client_id(consent.client)),
        dateTime=consent.signed_at,
        policyRule=_text("42 CFR Part 2" if consent.part2 else "HIPAA authorization"),
        provision=ConsentProvision(
            type="permit",
            period=Period(end=consent.expires_on.isoformat()) if consent.expires_on else None,
            actor=[
                ConsentProvisionActor(
                    role=CodeableConcept(
                        coding=[
                            Coding(
                                system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                code="IRCP",
                            )
                        ]
                    ),
                    reference=recipient_reference,
                )
            ]
            if recipient_reference
            else None,
            purpose=None,
            code=[_text(Category(value).label) for value in consent.categories]
            if consent.categories
            else None,
        ),
    )


# --- a referral we sent ---------------------------------------------------------------------------


def referral_service_request(referral, *, categories, own_organization) -> ServiceRequest:
    """What we ask the partner for. The reason in our words only when the consent covers it."""
    needs = list(referral.needs.all())
    return ServiceRequest(
        id=referral_id(referral),
        meta=Meta(profile=[codes.SERVICE_REQUEST_PROFILE]),
        identifier=[
            Identifier(system=codes.referral_system(referral.agency), value=referral.tracking_id)
        ],
        status=_request_status(referral.status),
        intent="order",
        priority=PRIORITY.get(referral.urgency, "routine"),
        category=[
            CodeableConcept(coding=[Coding(system=NEED_SYSTEM, code=term.code, display=term.name)])
            for term in needs
        ]
        or None,
        code=_text(
            referral.service.name
            if referral.service_id
            else ", ".join(t.name for t in needs) or "Referral"
        ),
        orderDetail=[
            CodeableConcept(
                coding=[Coding(system=codes.SDOHCC_TEMP, code="contacting-subject-prohibited")]
            )
        ]
        if referral.client.do_not_contact
        else None,
        subject=_ref("Patient", client_id(referral.client)),
        authoredOn=referral.sent_at or referral.created_at,
        requester=_ref("Organization", agency_organization_id(referral.agency, own_organization)),
        performer=[
            _ref("HealthcareService", str(referral.service.hsds_id))
            if referral.service_id
            else _ref("Organization", organization_id(referral.organization))
        ],
        reasonCode=[_text(referral.reason)]
        if referral.reason and Category.REASON in categories
        else None,
    )


def _request_status(status: str) -> str:
    if status == Status.DRAFT:
        return "draft"
    if status == Status.CANCELLED:
        return "revoked"
    if status in (Status.COMPLETED, Status.REJECTED, Status.FAILED):
        return "completed"
    if status == Status.ON_HOLD:
        return "on-hold"
    return "active"


def referral_task(referral, *, own_organization, part_of: int | None = None) -> Task:
    """`part_of`: the inbound referral (made to us as FHIR) this referral passes on, whose
    Task it is a sub-task of."""
    status, business = codes.referral_task_status(referral.status)
    disposition = referral.disposition
    reason = referral.status_reason or (disposition.label if disposition else "")
    return Task(
        id=referral_id(referral),
        meta=Meta(
            profile=[codes.TASK_PROFILE],
            versionId=str(referral.version),
            lastUpdated=referral.updated_at,
        ),
        identifier=[
            Identifier(system=codes.referral_system(referral.agency), value=referral.tracking_id)
        ],
        partOf=[_ref("Task", f"inbound-{part_of}")] if part_of else None,
        status=status,
        businessStatus=_text(business),
        statusReason=_text(reason or Status(referral.status).label)
        if status in codes.REASON_REQUIRED
        else None,
        intent="order",
        priority=PRIORITY.get(referral.urgency, "routine"),
        code=CodeableConcept(coding=[Coding(system=codes.TASK_CODE_SYSTEM, code="fulfill")]),
        focus=_ref("ServiceRequest", referral_id(referral)),
        for_fhir=_ref("Patient", client_id(referral.client)),
        authoredOn=referral.sent_at or referral.created_at,
        lastModified=referral.updated_at,
        requester=_ref(
            "Organization",
            agency_organization_id(referral.agency, own_organization),
            referral.agency.name,
        ),
        owner=_ref(
            "Organization", organization_id(referral.organization), referral.organization.name
        ),
        output=[_outcome_output(disposition)]
        if disposition is not None and status in codes.FINAL
        else None,
    )


def _outcome_output(disposition) -> TaskOutput:
    return TaskOutput(
        type=CodeableConcept(coding=[Coding(system=codes.OUTCOME_SYSTEM, code="outcome")]),
        valueCodeableConcept=CodeableConcept(
            coding=[
                Coding(
                    system=codes.OUTCOME_SYSTEM, code=disposition.code, display=disposition.label
                )
            ]
        ),
    )


def referral_bundle(referral, *, categories, own_organization, part_of=None) -> Bundle:
    """The whole referral as one transaction Bundle (PUTs by id, so a receiving server that
    applies it twice has it once): the Patient, the ServiceRequest and its Task, the consent it
    was shared under, and the partner, its service and locations from the directory."""
    resources = [
        patient_resource(referral.client, categories),
        referral_service_request(
            referral, categories=categories, own_organization=own_organization
        ),
        referral_task(referral, own_organization=own_organization, part_of=part_of),
    ]
    partner = organization_resource(referral.organization)
    if referral.consent_id:
        resources.append(
            consent_resource(referral.consent, recipient_reference=_ref("Organization", partner.id))
        )
    resources.append(
        organization_resource(own_organization)
        if own_organization
        else agency_organization_resource(referral.agency)
    )
    resources.append(partner)
    if referral.service_id:
        resources.append(healthcare_service_resource(referral.service))
        resources += [
            location_resource(sal.location) for sal in referral.service.service_at_locations.all()
        ]
    return transaction_bundle(resources)


def transaction_bundle(resources) -> Bundle:
    return Bundle(
        type="transaction",
        entry=[
            BundleEntry(
                fullUrl=f"urn:referloop:{resource.get_resource_type()}/{resource.id}",
                resource=resource,
                request=BundleEntryRequest(
                    method="PUT", url=f"{resource.get_resource_type()}/{resource.id}"
                ),
            )
            for resource in resources
        ],
    )


# --- a referral made to us ------------------------------------------------------------------------


def inbound_task(inbound, *, own_organization, received=None) -> Task:
    stay = getattr(inbound, "stay", None)  # none until someone moves in
    status, business = codes.inbound_task_status(inbound, stay)
    sent = json.loads(received.task) if received else {}
    reason = inbound.status_reason or business
    identifiers = [
        Identifier(system=codes.inbound_system(inbound.agency), value=inbound.tracking_id)
    ]
    if received:
        identifiers += [
            Identifier(system=row.system, value=row.value)
            for row in received.identifiers.all()
            if not row.system.startswith("urn:referloop:")
        ]
    return Task(
        id=inbound_id(inbound),
        meta=Meta(
            profile=[codes.TASK_PROFILE],
            versionId=str(inbound.version),
            lastUpdated=inbound.updated_at,
        ),
        identifier=identifiers,
        partOf=sent.get("partOf"),
        status=status,
        businessStatus=_text(business),
        statusReason=_text(reason) if status in codes.REASON_REQUIRED else None,
        intent="order",
        priority=sent.get("priority"),
        code=CodeableConcept(coding=[Coding(system=codes.TASK_CODE_SYSTEM, code="fulfill")]),
        focus=_ref("ServiceRequest", inbound_id(inbound)),
        for_fhir=_ref("Patient", client_id(inbound.client)) if inbound.client_id else None,
        authoredOn=sent.get("authoredOn") or inbound.referred_at,
        lastModified=inbound.updated_at,
        requester=_ref(
            "Organization",
            organization_id(inbound.source_organization),
            inbound.source_organization.name,
        )
        if inbound.source_organization_id
        else None,
        owner=_ref(
            "Organization",
            agency_organization_id(inbound.agency, own_organization),
            inbound.agency.name,
        ),
    )


def inbound_service_request(inbound, *, received) -> ServiceRequest:
    """The sender's ServiceRequest as it came, under our id and pointing at our records."""
    sent = json.loads(received.service_request)
    sent.update(
        id=inbound_id(inbound),
        subject={"reference": f"Patient/{client_id(inbound.client)}"}
        if inbound.client_id
        else sent.get("subject"),
    )
    sent.pop("text", None)
    identifiers = [
        {"system": row.system, "value": row.value}
        for row in received.identifiers.all()
        if not row.system.startswith("urn:referloop:")
    ]
    sent["identifier"] = [
        {"system": codes.inbound_system(inbound.agency), "value": inbound.tracking_id},
        *identifiers,
    ]
    if inbound.source_organization_id:
        sent["requester"] = {
            "reference": f"Organization/{organization_id(inbound.source_organization)}",
            "display": inbound.source_organization.name,
        }
    for unresolved in ("reasonReference", "supportingInfo", "basedOn", "encounter"):
        sent.pop(unresolved, None)  # references into the sender's server, not ours
    return ServiceRequest.model_validate(sent)


def as_json(resource) -> bytes:
    return resource.model_dump_json(exclude_none=True, by_alias=True).encode()
