"""What intake shows on the client page: the inquiries that led to this client record (the
clients app needs nothing of intake)."""

from django import template

from referloop.intake.models import Inquiry

register = template.Library()


@register.inclusion_tag("intake/_client_inquiries.html", takes_context=True)
def client_inquiries(context, client):
    inquiries = list(
        Inquiry.objects.for_agency(client.agency).filter(client=client).order_by("-received_at")
    )
    return {**context.flatten(), "inquiries": inquiries}
