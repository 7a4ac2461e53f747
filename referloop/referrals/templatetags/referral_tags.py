"""What the referral side shows on other apps' pages: the client page's list of the client's
referrals is rendered here, so the clients app needs nothing of referrals (`{% load
referral_tags %}` is a template's dependency, not a module's)."""

from django import template

from referloop.referrals.selectors import client_referrals as referrals_of

register = template.Library()


@register.inclusion_tag("referrals/_client_referrals.html", takes_context=True)
def client_referrals(context, client):
    return {**context.flatten(), "referrals": referrals_of(client=client)}
