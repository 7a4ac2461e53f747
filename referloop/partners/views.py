from django.http import HttpResponse

from referloop.core.access import agency_member_required
from referloop.core.permissions import Perm


@agency_member_required(Perm.VIEW)
def partner_list(request):
    return HttpResponse("")
