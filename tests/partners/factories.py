"""Builders for partner test data: a relationship with a directory organization, its people."""

from referloop.directory.models import Organization
from referloop.partners import services
from referloop.partners.models import Relationship
from tests.directory import factories as directory


def relationship(*, agency, actor=None, name="County Probation", **fields) -> Relationship:
    organization = Organization.objects.filter(network=agency.network, name=name).first()
    if organization is None:
        organization = directory.organization(network=agency.network, name=name)
    found = services.relationship_ensure(agency=agency, organization=organization, actor=actor)
    if fields:
        Relationship.objects.filter(pk=found.pk).update(**fields)
        found.refresh_from_db()
    return found


def person(*, relationship, actor, name="Jordan Ellis", email="", title="Probation officer"):
    return services.partner_contact_create(
        agency=relationship.agency,
        actor=actor,
        name=name,
        organization=relationship.organization,
        title=title,
        email=email,
    )
