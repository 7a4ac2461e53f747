"""What the stays side shows on the client page: the referrals made to us for this person and
their stays, with the two ways to start one (the clients app needs nothing of stays)."""

from django import template

from referloop.stays.selectors import client_stays

register = template.Library()


@register.inclusion_tag("stays/_client_stays.html", takes_context=True)
def client_stays_section(context, client):
    inbound, stays = client_stays(client=client)
    enabled = context["current_agency"].policies.stays_enabled
    return {**context.flatten(), "inbound": inbound, "stays": stays, "enabled": enabled}
