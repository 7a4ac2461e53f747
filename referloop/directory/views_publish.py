"""The published directory export at a stable URL (public, no login): the files the worker
writes with `directory.publish.directory_publish`, published on the first request if the worker
has not run yet."""

import logging

from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from referloop.directory.publish import CSV_NAME, JSON_NAME, directory_publish, published_file

logger = logging.getLogger(__name__)

FORMATS = {
    "json": (JSON_NAME, "application/json"),
    "csv": (CSV_NAME, "text/csv; charset=utf-8"),
}
NOT_PUBLISHED = (
    "The directory export has not been published yet. Please try again in a few minutes.\n"
)


@require_safe
def published_export(request, fmt: str):
    if fmt not in FORMATS:
        raise Http404("No such export format.")
    name, content_type = FORMATS[fmt]
    path = published_file(name)
    if path is None:
        try:
            directory_publish()
        except Exception:  # the page must answer even when publishing fails
            logger.exception("publishing the directory export failed")
        path = published_file(name)
    if path is None:
        return HttpResponse(NOT_PUBLISHED, status=404, content_type="text/plain; charset=utf-8")
    response = FileResponse(
        path.open("rb"), content_type=content_type, as_attachment=fmt == "csv", filename=name
    )
    response["Last-Modified"] = http_date(path.stat().st_mtime)
    response["Cache-Control"] = "public, max-age=300"
    return response
