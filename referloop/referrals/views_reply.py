from django.http import Http404


def reply(request, token):
    raise Http404("not built yet")
