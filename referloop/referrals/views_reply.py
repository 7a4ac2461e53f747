"""The partner's one-question reply page at /r/<token>: public, no login, phone first.

GET only shows (mail scanners open links before people do); POST records the answer. Every
response, refusals included, is private: no referrer leaves the page (the URL is the key), no
cache keeps it, no search engine lists it.
"""

from functools import wraps

from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from referloop.core.errors import DomainError
from referloop.referrals import replies
from referloop.referrals.services import Answer


class ReplyForm(forms.Form):
    answer = forms.ChoiceField(
        label="What happened?",
        choices=Answer.CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose one answer."},
    )
    disposition = forms.ChoiceField(label="Why not?", required=False)
    note = forms.CharField(
        label="Anything to add? (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Please don't include details the sender doesn't need.",
    )

    def __init__(self, *args, reasons, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["disposition"].choices = [("", "Choose a reason")] + [
            (code.code, code.label) for code in reasons
        ]

    def clean(self):
        data = super().clean()
        if data.get("answer") == Answer.NOT_ACCEPTED and not data.get("disposition"):
            self.add_error("disposition", "Tell us why the referral was not accepted.")
        return data


def _private(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def _problem(request, problem: str, *, link=None, status: int):
    context = {"problem": problem, "message": replies.PROBLEMS.get(problem, "")}
    if link is not None:
        context["referral"] = link.referral
    return render(request, "referrals/reply_problem.html", context, status=status)


def _form_page(request, link, form, *, status: int = 200):
    details = replies.reply_page_view(link=link, request=request)
    context = {"link": link, "referral": link.referral, "form": form, "packet": details}
    return render(request, "referrals/reply.html", context, status=status)


def _answer(request, link):
    form = ReplyForm(request.POST, reasons=replies.reply_reasons(agency=link.referral.agency))
    if not form.is_valid():
        replies.reply_refusal_record(
            request=request, action=replies.ANSWER, reason="invalid", link=link
        )
        return _form_page(request, link, form, status=400)
    try:
        replies.reply_answer_record(link=link, request=request, **form.cleaned_data)
    except DomainError as error:
        if error.code == "rate_limited":
            return _problem(request, "rate_limited", link=link, status=429)
        if error.code in replies.PROBLEMS:
            return _problem(request, error.code, link=link, status=410)
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _form_page(request, link, form, status=400)
    # Post/redirect/get: a reload shows the thank-you page instead of sending the answer again.
    return HttpResponseRedirect(request.path)


# No CSRF check: the unguessable token in the path already proves the request comes from
# someone who holds the link -- a forged cross-site POST would need it -- and Django's check
# cannot pass here anyway: under `Referrer-Policy: no-referrer` browsers send `Origin: null` and
# no Referer. So the page sets no cookie at all.
@csrf_exempt
@_private
@require_http_methods(["GET", "HEAD", "POST"])
def reply(request, token):
    if replies.reply_address_limited(request=request):
        replies.reply_refusal_record(request=request, action=replies.LIMITED, reason="address")
        return _problem(request, "rate_limited", status=429)
    link = replies.reply_link_find(token)
    if link is None:
        replies.reply_refusal_record(request=request, action=replies.UNKNOWN_LINK, reason="unknown")
        return _problem(request, "unknown", status=404)
    problem = replies.reply_link_problem(link)
    if problem:
        action = replies.ANSWER if request.method == "POST" else replies.VIEW
        replies.reply_refusal_record(request=request, action=action, reason=problem, link=link)
        return _problem(request, problem, link=link, status=410)
    if request.method == "POST":
        return _answer(request, link)
    if request.method == "HEAD":
        # Link checkers and mail scanners probe with HEAD: no page goes out, so nothing about the
        # client is disclosed, and neither the ledger nor the audit trail records a view.
        return HttpResponse(content_type="text/html; charset=utf-8")
    if link.last_answer and "change" not in request.GET:
        replies.reply_page_view(link=link, request=request, details=False)
        context = {"link": link, "referral": link.referral, "answer": link.last_answer}
        context["answer_label"] = Answer.LABELS.get(link.last_answer, link.last_answer)
        return render(request, "referrals/reply_thanks.html", context)
    form = ReplyForm(
        reasons=replies.reply_reasons(agency=link.referral.agency),
        initial={"answer": link.last_answer},
    )
    return _form_page(request, link, form)
