"""The partners app's part of pages lower apps render (the import direction stays one way)."""

from django import template
from django.urls import reverse

from referloop.partners.selectors import referral_partner
from referloop.referrals.models import Status

register = template.Library()


@register.inclusion_tag("partners/_referral_log.html", takes_context=True)
def referral_partner_log(context, referral):
    """On a referral: log a contact with the partner organization about it, in place. Nothing
    for a draft (an interaction links only to a sent referral) or a sender with no listing."""
    relationship = (
        None
        if referral.status == Status.DRAFT
        else referral_partner(agency=context["request"].agency, referral=referral)
    )
    return {
        "referral": referral,
        "relationship": relationship,
        "url": reverse("partners:referral_log", args=[referral.pk]),
        "can_write": context.get("can_write"),
    }
