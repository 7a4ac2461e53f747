"""Pages as PDF documents (a referral packet, the weekly review), by WeasyPrint. Nothing is fetched
while rendering: the stylesheet comes from the static files and every URL in the document is
refused, so a PDF never reaches out to the network nor shows what it could reach."""

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string


def pdf_render(template: str, context: dict, *, stylesheet: str) -> bytes:
    """`template` rendered with `context` as a PDF, styled by the static file `stylesheet`."""
    from weasyprint import CSS, HTML  # costs about a second: only when a PDF is asked for
    from weasyprint.urls import URLFetcher

    with open(finders.find(stylesheet), encoding="utf-8") as css_file:
        css = CSS(string=css_file.read())
    html = render_to_string(template, context)
    no_fetching = URLFetcher(allowed_protocols=())
    return HTML(string=html, url_fetcher=no_fetching).write_pdf(stylesheets=[css])
