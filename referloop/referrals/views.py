from django.http import Http404


def referral_list(request):
    raise Http404


def referral_detail(request, pk):
    raise Http404
