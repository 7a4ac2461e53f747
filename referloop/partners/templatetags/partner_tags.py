"""The partners app's part of pages lower apps render (the import direction stays one way)."""

from django import template
from django.urls import reverse

from referloop.partners.models import Relationship

register = template.Library()


@register.inclusion_tag("partners/_referral_log.html", takes_context=True)
def referral_partner_log(context, referral):
    """On a referral: log a contact with the partner organization about it, in place."""
    agency = context["request"].agency
    relationship = (
        Relationship.objects.for_agency(agency)
        .filter(organization_id=referral.organization_id)
        .only("pk")
        .first()
        if referral.agency_id == agency.pk
        else None
    )
    url = reverse("partners:referral_log", args=[referral.pk])
    return {
        "referral": referral,
        "relationship": relationship,
        "url": url,
        "can_write": context.get("can_write"),
    }
