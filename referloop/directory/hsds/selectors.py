"""HSDS 3.0 export of a network's directory: JSON service objects and a tabular datapackage.

- `hsds_export_iter` yields one HSDS 3.0 service object per service, in the compiled
  `service.json` shape (organization, service_at_locations with their locations, phones,
  schedules, languages, attributes with their taxonomy terms, required documents, contacts,
  service areas). Services are read in chunks with everything they need prefetched (about twenty
  queries per chunk, none per service), so 50,000 services stream in bounded memory.
- Capacity goes out as HSDS 3.1 `capacities` (`service_capacity` objects with their `unit`): the
  3.0 compiled schemas set no `additionalProperties: false`, so a 3.0 validator accepts it and a
  3.1 reader understands it. `waitlist` is a Referloop extension on those objects.
- `hsds_export_tabular` writes the 3.0 CSV files (3.0 column sets, UTF-8, RFC 4180) plus the 3.1
  `service_capacity.csv` and `units.csv`, and a `datapackage.json` describing every file.

Ids are each row's `hsds_id` (the id it was imported with when that was a UUID).
"""

import csv
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from referloop.core.models import Network
from referloop.directory.models import (
    Address,
    CapacityUnit,
    Contact,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
    Taxonomy,
    TaxonomyTerm,
)

CHUNK = 500
UNIT_NAMESPACE = uuid.UUID("0b6a3c1e-2f4d-5a6b-8c9d-0e1f2a3b4c5d")
REFERLOOP_EXTENSION = "Referloop extension"


def unit_id(unit: str, name: str = "") -> str:
    """A stable UUID for each capacity unit (and each named kind of one: "Men's beds"), so
    units.csv rows keep their ids across exports."""
    return str(uuid.uuid5(UNIT_NAMESPACE, f"{unit}:{name}" if name else unit))


def unit_object(unit: str, name: str = "") -> dict:
    """HSDS 3.1 `unit`: a named kind keeps its name, and says what it counts in `identifier`."""
    return {"id": unit_id(unit, name), "name": name or unit, "identifier": unit}


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _id(obj) -> str | None:
    return str(obj.hsds_id) if obj is not None else None


def _extension(value: str) -> int | None:
    return int(value) if value and value.isdigit() else None  # HSDS: a number


def _obj(required: Iterable[str] = ("id",), **fields) -> dict:
    """Drops empty optional fields: HSDS types them (a "" is not a uuid, an e-mail or a URI)."""
    keep = set(required)
    return {k: v for k, v in fields.items() if k in keep or v not in (None, "", [])}


# --- JSON ----------------------------------------------------------------------------------------


def _languages(languages) -> list[dict]:
    return [_obj(id=_id(x), name=x.name, code=x.code, note=x.note) for x in languages]


def _phones(phones, **links) -> list[dict]:
    return [
        _obj(
            ("id", "number"),
            id=_id(phone),
            **links,
            number=phone.number,
            extension=_extension(phone.extension),
            type=phone.type,
            description=phone.description,
            languages=_languages(phone.languages_list),
        )
        for phone in phones
    ]


def _schedules(schedules, **links) -> list[dict]:
    return [
        _obj(
            id=_id(s),
            **links,
            valid_from=_iso(s.valid_from),
            valid_to=_iso(s.valid_to),
            freq=s.freq if s.freq in ("WEEKLY", "MONTHLY") else None,
            byday=s.byday,
            description=s.description,
            opens_at=_iso(s.opens_at),
            closes_at=_iso(s.closes_at),
        )
        for s in schedules
    ]


def _address(a: Address) -> dict:
    return _obj(
        ("id", "address_1", "city", "state_province", "postal_code", "country", "address_type"),
        id=_id(a),
        attention=a.attention,
        address_1=a.address_1,
        address_2=a.address_2,
        city=a.city,
        region=a.region,
        state_province=a.state_province,
        postal_code=a.postal_code,
        country=a.country,
        address_type=a.address_type,
    )


def _location(location: Location) -> dict:
    return _obj(
        ("id", "location_type"),
        id=_id(location),
        location_type=location.location_type,
        url=location.url,
        organization_id=_id(location.organization),
        name=location.name,
        alternate_name=location.alternate_name,
        description=location.description,
        transportation=location.transportation,
        latitude=location.latitude,
        longitude=location.longitude,
        languages=_languages(location.languages_list),
        addresses=[_address(a) for a in location.addresses_list],
        phones=_phones(location.phones_list, location_id=_id(location)),
        schedules=_schedules(location.schedules_list, location_id=_id(location)),
    )


def _organization(org: Organization) -> dict:
    """The organization with its own phones and contacts (those of no service or location)."""
    oid = _id(org)
    return _obj(
        ("id", "name", "description"),
        id=oid,
        name=org.name,
        alternate_name=org.alternate_name,
        description=org.description,
        email=org.email,
        website=org.website,
        tax_status=org.tax_status,
        year_incorporated=org.year_incorporated,
        legal_status=org.legal_status,
        phones=_phones(org.phones_list, organization_id=oid),
        contacts=[_contact(contact, organization_id=oid) for contact in org.contacts_list],
    )


def _contact(contact: Contact, **links) -> dict:
    return _obj(
        id=_id(contact),
        **links,
        name=contact.name,
        title=contact.title,
        department=contact.department,
        email=contact.email,
        phones=_phones(contact.phones_list, contact_id=_id(contact)),
    )


def _term(term: TaxonomyTerm) -> dict:
    taxonomy = term.taxonomy
    return _obj(
        ("id", "name", "description"),
        id=_id(term),
        code=term.code,
        name=term.name,
        description=term.description,
        parent_id=_id(term.parent),
        taxonomy=taxonomy.name,
        taxonomy_detail=_obj(
            ("id", "name", "description"),
            id=_id(taxonomy),
            name=taxonomy.name,
            description=taxonomy.description,
            uri=taxonomy.uri,
            version=taxonomy.version,
        ),
        taxonomy_id=_id(taxonomy),
        term_uri=term.term_uri,
    )


def _units_used(network) -> list[dict]:
    """Every plain unit, and each named kind the network's capacities count."""
    named = (
        ServiceCapacity.objects.filter(service__network=network)
        .exclude(name="")
        .values_list("unit", "name")
        .distinct()
        .order_by("unit", "name")
    )
    return [unit_object(unit) for unit in CapacityUnit.values] + [
        unit_object(unit, name) for unit, name in named
    ]


def _capacity(capacity: ServiceCapacity, service_id: str) -> dict:
    return _obj(
        ("id", "unit", "available", "updated"),
        id=_id(capacity),
        service_id=service_id,
        unit=unit_object(capacity.unit, capacity.name),
        unit_id=unit_id(capacity.unit, capacity.name),
        available=capacity.available,
        maximum=capacity.maximum,
        description=capacity.description,
        updated=_iso(capacity.updated_at),
        waitlist=capacity.waitlist,
    )


def service_dict(service: Service) -> dict:
    """One service as an HSDS 3.0 object (expects the `*_list` prefetches of `_chunk_queryset`)."""
    sid = _id(service)
    return _obj(
        ("id", "name", "status"),
        id=sid,
        organization_id=_id(service.organization),
        name=service.name,
        alternate_name=service.alternate_name,
        description=service.description,
        url=service.url,
        email=service.email,
        status=service.status,
        interpretation_services=service.interpretation_services,
        application_process=service.application_process,
        fees_description=service.fees_description,
        wait_time=service.wait_time,
        accreditations=service.accreditations,
        eligibility_description=service.eligibility_description,
        minimum_age=service.minimum_age,
        maximum_age=service.maximum_age,
        assured_date=_iso(service.last_verified_at.date()) if service.last_verified_at else None,
        licenses=service.licenses,
        alert=service.alert,
        last_modified=_iso(service.updated_at),
        phones=_phones(service.phones_list, service_id=sid),
        schedules=_schedules(service.schedules_list, service_id=sid),
        service_areas=[
            _obj(
                id=_id(area),
                service_id=sid,
                name=area.name,
                description=area.description,
                extent=area.extent,
                extent_type=area.extent_type,
            )
            for area in service.service_areas_list
        ],
        service_at_locations=[
            _obj(
                id=_id(sal),
                service_id=sid,
                location_id=_id(sal.location),
                description=sal.description,
                location=_location(sal.location),
            )
            for sal in service.service_at_locations_list
        ],
        languages=_languages(service.languages_list),
        organization=_organization(service.organization),
        required_documents=[
            _obj(id=_id(doc), service_id=sid, document=doc.document, uri=doc.uri)
            for doc in service.required_documents_list
        ],
        contacts=[_contact(contact, service_id=sid) for contact in service.contacts_list],
        attributes=[
            _obj(
                id=_id(attribute),
                link_id=sid,
                taxonomy_term_id=_id(attribute.term),
                link_entity="service",
                value=attribute.value,
                taxonomy_term=_term(attribute.term),
            )
            for attribute in service.attributes_list
        ],
        capacities=[_capacity(c, sid) for c in service.capacities_list],
    )


def _listed(lookup: str, queryset: QuerySet) -> Prefetch:
    """Prefetched into a plain list named after the relation plus `_list` (`phones_list`): the
    queryset Django otherwise builds per object and relation (thirteen per service) cost more
    than the queries themselves."""
    return Prefetch(lookup, queryset=queryset, to_attr=f"{lookup.rsplit('__', 1)[-1]}_list")


def _phones_prefetch(lookup: str, phones: QuerySet | None = None) -> Prefetch:
    languages = _listed("languages", Language.objects.order_by("pk"))
    phones = Phone.objects.all() if phones is None else phones
    return _listed(lookup, phones.order_by("pk").prefetch_related(languages))


def _contacts_prefetch(lookup: str, contacts: QuerySet) -> Prefetch:
    return _listed(lookup, contacts.order_by("pk").prefetch_related(_phones_prefetch("phones")))


def _chunk_queryset(pks: list[int]) -> QuerySet:
    by_pk = [
        _listed(name, model.objects.order_by("pk"))
        for name, model in (
            ("schedules", Schedule),
            ("service_areas", ServiceArea),
            ("languages", Language),
            ("required_documents", RequiredDocument),
        )
    ]
    locations = ServiceAtLocation.objects.order_by("pk").select_related("location__organization")
    return (
        Service.objects.filter(pk__in=pks)
        .order_by("pk")
        .select_related("organization")
        .prefetch_related(
            _phones_prefetch("phones"),
            _phones_prefetch(
                "organization__phones",
                Phone.objects.filter(service=None, location=None, contact=None),
            ),
            _contacts_prefetch("organization__contacts", Contact.objects.filter(service=None)),
            *by_pk,
            _contacts_prefetch("contacts", Contact.objects.all()),
            _listed(
                "attributes",
                ServiceAttribute.objects.order_by("pk").select_related(
                    "term__taxonomy", "term__parent"
                ),
            ),
            _listed("capacities", ServiceCapacity.objects.order_by("unit")),
            _listed(
                "service_at_locations",
                locations.prefetch_related(
                    _listed("location__addresses", Address.objects.order_by("pk")),
                    _listed("location__languages", Language.objects.order_by("pk")),
                    _phones_prefetch("location__phones"),
                    _listed("location__schedules", Schedule.objects.order_by("pk")),
                ),
            ),
        )
    )


def services_iter(services: QuerySet, *, chunk_size: int = CHUNK) -> Iterator[Service]:
    """The services of `services`, in pk order, with everything the export needs prefetched into
    `<relation>_list` attributes (`phones_list`, `service_at_locations_list`...)."""
    pks = list(services.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), chunk_size):
        yield from _chunk_queryset(pks[start : start + chunk_size])


def hsds_export_iter(*, network: Network, chunk_size: int = CHUNK) -> Iterator[dict]:
    for service in services_iter(Service.objects.filter(network=network), chunk_size=chunk_size):
        yield service_dict(service)


def hsds_export_json(*, network: Network) -> list[dict]:
    """Every service of the network as HSDS 3.0 service objects (`service_full` shape)."""
    return list(hsds_export_iter(network=network))


def write_json_list(items: Iterable[dict], stream) -> int:
    """Writes a JSON list one item at a time (the export never holds the whole list)."""
    count = 0
    stream.write("[")
    for item in items:
        stream.write(",\n" if count else "\n")
        stream.write(orjson.dumps(item).decode())  # UTF-8, compact: 4x faster than json.dumps
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


def hsds_write_json(*, network: Network, path: Path) -> int:
    with Path(path).open("w", encoding="utf-8") as stream:
        return write_json_list(hsds_export_iter(network=network), stream)


# --- tabular -------------------------------------------------------------------------------------

UUID = ("string", "uuid")
FIELD_TYPES = {
    "latitude": ("number", ""),
    "longitude": ("number", ""),
    "minimum_age": ("number", ""),
    "maximum_age": ("number", ""),
    "year_incorporated": ("number", ""),
    "extension": ("number", ""),
    "available": ("number", ""),
    "maximum": ("number", ""),
    "assured_date": ("date", ""),
    "valid_from": ("date", ""),
    "valid_to": ("date", ""),
    "last_modified": ("datetime", ""),
    "updated": ("datetime", ""),
    "opens_at": ("time", ""),
    "closes_at": ("time", ""),
    "email": ("string", "email"),
    "url": ("string", "uri"),
    "website": ("string", "uri"),
    "term_uri": ("string", "uri"),
    "waitlist": ("boolean", ""),
}

# resource name, file, columns (3.0 / 3.1 order), required columns
TABLES = (
    (
        "organization",
        "organizations.csv",
        "id name alternate_name description email website tax_status tax_id year_incorporated "
        "legal_status logo uri parent_organization_id",
        "id name description",
    ),
    (
        "service",
        "services.csv",
        "id organization_id program_id name alternate_name description url email status "
        "interpretation_services application_process fees_description wait_time fees "
        "accreditations eligibility_description minimum_age maximum_age assured_date "
        "assurer_email licenses alert last_modified",
        "id organization_id name status",
    ),
    (
        "location",
        "locations.csv",
        "id location_type url organization_id name alternate_name description transportation "
        "latitude longitude external_identifier external_identifier_type",
        "id location_type",
    ),
    (
        "service_at_location",
        "service_at_location.csv",
        "id service_id location_id description",
        "id service_id location_id",
    ),
    (
        "address",
        "addresses.csv",
        "id location_id attention address_1 address_2 city region state_province postal_code "
        "country address_type",
        "id address_1 city state_province postal_code country address_type",
    ),
    (
        "contact",
        "contacts.csv",
        "id organization_id service_id service_at_location_id location_id name title department "
        "email",
        "id",
    ),
    (
        "phone",
        "phones.csv",
        "id location_id service_id organization_id contact_id service_at_location_id number "
        "extension type description",
        "id number",
    ),
    (
        "schedule",
        "schedules.csv",
        "id service_id location_id service_at_location_id valid_from valid_to dtstart timezone "
        "until count wkst freq interval byday byweekno bymonthday byyearday description opens_at "
        "closes_at schedule_link attending_type notes",
        "id",
    ),
    (
        "service_area",
        "service_areas.csv",
        "id service_id name description extent extent_type uri",
        "id",
    ),
    ("language", "languages.csv", "id service_id location_id phone_id name code note", "id"),
    ("required_document", "required_documents.csv", "id service_id document uri", "id"),
    ("taxonomy", "taxonomies.csv", "id name description uri version", "id name description"),
    (
        "taxonomy_term",
        "taxonomy_terms.csv",
        "id code name description parent_id taxonomy language taxonomy_id term_uri",
        "id name description",
    ),
    (
        "attribute",
        "attributes.csv",
        "id link_id taxonomy_term_id link_type link_entity value",
        "id link_id taxonomy_term_id link_entity",
    ),
    (
        "service_capacity",
        "service_capacity.csv",
        "id service_id unit_id available maximum description updated waitlist",
        "id service_id unit_id available updated",
    ),
    ("unit", "units.csv", "id name scheme identifier uri", "id name"),
)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _rows(network: Network) -> dict[str, Iterable[dict]]:
    """Per resource, an iterator of row dicts (database cursors, never whole tables in memory)."""

    def values(model, *fields):
        query = model.objects.filter(network=network).order_by("pk")
        yield from query.values(*fields).iterator(chunk_size=2000)

    def rename(rows, extra=None, **names):
        for row in rows:
            yield {names.get(k, k): v for k, v in row.items()} | (extra or {})

    def phones():
        for row in values(
            Phone,
            "hsds_id",
            "location__hsds_id",
            "service__hsds_id",
            "organization__hsds_id",
            "contact__hsds_id",
            "number",
            "extension",
            "type",
            "description",
        ):
            row["extension"] = _extension(row["extension"])
            yield row

    def services():
        for row in values(
            Service,
            "hsds_id",
            "organization__hsds_id",
            "name",
            "alternate_name",
            "description",
            "url",
            "email",
            "status",
            "interpretation_services",
            "application_process",
            "fees_description",
            "wait_time",
            "accreditations",
            "eligibility_description",
            "minimum_age",
            "maximum_age",
            "last_verified_at",
            "licenses",
            "alert",
            "updated_at",
        ):
            verified = row.pop("last_verified_at")
            row["assured_date"] = verified.date() if verified else None
            row["last_modified"] = row.pop("updated_at")
            yield row

    def capacities():
        for row in values(
            ServiceCapacity,
            "hsds_id",
            "service__hsds_id",
            "unit",
            "name",
            "available",
            "maximum",
            "description",
            "updated_at",
            "waitlist",
        ):
            row["unit_id"] = unit_id(row.pop("unit"), row.pop("name"))
            row["updated"] = row.pop("updated_at")
            yield row

    attributes = ServiceAttribute.objects.filter(service__network=network).order_by("pk")
    term_ids = set(attributes.values_list("term_id", flat=True))
    frontier = set(term_ids)
    while frontier:  # the terms in use and their ancestors, so every parent_id resolves
        parents = set(
            TaxonomyTerm.objects.filter(pk__in=frontier, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        frontier = parents - term_ids
        term_ids |= parents
    terms = TaxonomyTerm.objects.filter(pk__in=term_ids).order_by("pk")
    taxonomies = Taxonomy.objects.filter(terms__in=term_ids).distinct().order_by("pk")

    return {
        "organization": values(
            Organization,
            "hsds_id",
            "name",
            "alternate_name",
            "description",
            "email",
            "website",
            "tax_status",
            "year_incorporated",
            "legal_status",
        ),
        "service": services(),
        "location": values(
            Location,
            "hsds_id",
            "location_type",
            "url",
            "organization__hsds_id",
            "name",
            "alternate_name",
            "description",
            "transportation",
            "latitude",
            "longitude",
        ),
        "service_at_location": values(
            ServiceAtLocation, "hsds_id", "service__hsds_id", "location__hsds_id", "description"
        ),
        "address": values(
            Address,
            "hsds_id",
            "location__hsds_id",
            "attention",
            "address_1",
            "address_2",
            "city",
            "region",
            "state_province",
            "postal_code",
            "country",
            "address_type",
        ),
        "contact": values(
            Contact,
            "hsds_id",
            "organization__hsds_id",
            "service__hsds_id",
            "name",
            "title",
            "department",
            "email",
        ),
        "phone": phones(),
        "schedule": values(
            Schedule,
            "hsds_id",
            "service__hsds_id",
            "location__hsds_id",
            "valid_from",
            "valid_to",
            "freq",
            "byday",
            "description",
            "opens_at",
            "closes_at",
        ),
        "service_area": values(
            ServiceArea,
            "hsds_id",
            "service__hsds_id",
            "name",
            "description",
            "extent",
            "extent_type",
        ),
        "language": values(
            Language,
            "hsds_id",
            "service__hsds_id",
            "location__hsds_id",
            "phone__hsds_id",
            "name",
            "code",
            "note",
        ),
        "required_document": values(
            RequiredDocument, "hsds_id", "service__hsds_id", "document", "uri"
        ),
        "taxonomy": taxonomies.values("hsds_id", "name", "description", "uri", "version"),
        "taxonomy_term": rename(
            terms.values(
                "hsds_id",
                "code",
                "name",
                "description",
                "parent__hsds_id",
                "taxonomy__name",
                "taxonomy__hsds_id",
                "term_uri",
            ),
            taxonomy__name="taxonomy",
        ),
        "attribute": rename(
            attributes.values("hsds_id", "service__hsds_id", "term__hsds_id", "value"),
            extra={"link_entity": "service"},
            service__hsds_id="link_id",
        ),
        "service_capacity": capacities(),
        "unit": (
            {"hsds_id": kind["id"], "name": kind["name"], "identifier": kind["identifier"]}
            for kind in _units_used(network)
        ),
    }


# Our column names → the HSDS column each fills.
_COLUMN_NAMES = {
    "hsds_id": "id",
    "organization__hsds_id": "organization_id",
    "service__hsds_id": "service_id",
    "location__hsds_id": "location_id",
    "contact__hsds_id": "contact_id",
    "phone__hsds_id": "phone_id",
    "parent__hsds_id": "parent_id",
    "taxonomy__hsds_id": "taxonomy_id",
    "term__hsds_id": "taxonomy_term_id",
}


def _descriptor_fields(columns: list[str], required: set[str]) -> list[dict]:
    fields = []
    for name in columns:
        kind, fmt = (
            UUID if name == "id" or name.endswith("_id") else FIELD_TYPES.get(name, ("string", ""))
        )
        entry = {"name": name, "type": kind}
        if fmt:
            entry["format"] = fmt
        if name in required:
            entry["constraints"] = {"required": True}
        if name == "waitlist":
            entry["description"] = f"{REFERLOOP_EXTENSION}: a waiting list is open."
        fields.append(entry)
    return fields


def hsds_export_tabular(*, network: Network, directory: str | Path) -> dict[str, int]:
    """Writes the network's directory as an HSDS 3.0 tabular datapackage into `directory`.

    Returns the number of rows written per file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sources = _rows(network)
    counts: dict[str, int] = {}
    resources = []
    for name, file_name, columns, required in TABLES:
        header = columns.split()
        with (directory / file_name).open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\r\n")
            writer.writerow(header)
            count = 0
            for row in sources[name]:
                record = {_COLUMN_NAMES.get(k, k): v for k, v in row.items()}
                writer.writerow([_cell(record.get(column)) for column in header])
                count += 1
        counts[file_name] = count
        resource = {
            "name": name,
            "path": file_name,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "primaryKey": "id",
                "fields": _descriptor_fields(header, set(required.split())),
            },
        }
        if name in ("service_capacity", "unit"):
            resource["description"] = "HSDS 3.1 (service capacity), exported with a 3.0 package."
        resources.append(resource)
    descriptor = {
        "name": "human_services_data",
        "title": f"{network.name} resource directory",
        "description": "HSDS 3.0 export from Referloop, with HSDS 3.1 service capacity.",
        "profile": "tabular-data-package",
        "version": "3.0.0",
        "created": _iso(timezone.now()),
        "resources": resources,
    }
    (directory / "datapackage.json").write_text(
        json.dumps(descriptor, indent=2) + "\n", encoding="utf-8"
    )
    return counts
