"""Every download a page offers works: a crawler signs in to the demo network, walks the pages a
person can reach by following links, collects every export/download link it meets (a `format=`
query or a file name ending .csv/.xlsx/.pdf/.json/.ics), follows each, and opens what comes back
with the reader for its kind — so a download link added anywhere is tested without a test of its
own, and the known kinds are asserted to be among those found (a crawl that finds nothing fails).
"""

import csv
import io
import json
import re
import subprocess
from collections import deque
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from openpyxl import load_workbook

from referloop.clients.models import Disclosure
from referloop.core.models import User
from referloop.demo.build import demo_build, demo_clear

FILE_ENDINGS = (".csv", ".xlsx", ".pdf", ".json", ".ics")
SKIPPED_PREFIXES = ("/static/", "/admin/", "/accounts/logout", "/api/", "/r/")
MAX_PAGES = 800
PER_PATTERN = 8  # pages of one kind visited (enough to meet each kind of link, not every row)
HREF = re.compile(r'href="([^"#]+)"')


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), time_machine.travel(timezone.now(), tick=False):
        demo_build(size="small", seed=5)
    yield
    with django_db_blocker.unblock():
        demo_clear()


def _pattern(path: str, query: dict) -> tuple:
    try:
        match = resolve(path)
    except Resolver404:
        return (path,)
    return (match.view_name, tuple(sorted(query)), query.get("direction", [""])[0])


def _is_download(path: str, query: dict) -> bool:
    return "format" in query or path.lower().endswith(FILE_ENDINGS)


def crawl(client: Client, starts: list[str], broken: dict | None = None) -> dict[str, str]:
    """{download URL: the page it was found on}, from the pages reachable from `starts`; links
    that answer with an error go into `broken` ({URL: (status, the page it was found on)})."""
    seen_patterns: dict[tuple, int] = {}
    visited: set[str] = set()
    downloads: dict[str, str] = {}
    found_on: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url)
        if response.status_code >= 400 and url in found_on and broken is not None:
            broken[url] = (response.status_code, found_on[url])
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for href in HREF.findall(response.content.decode()):
            href = href.replace("&amp;", "&")
            target = urljoin(url, href)
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "testserver":
                continue
            path = parts.path
            if path.startswith(SKIPPED_PREFIXES) or parts.scheme in ("mailto", "tel"):
                continue
            query = parse_qs(parts.query)
            local = path + (f"?{urlencode(query, doseq=True)}" if query else "")
            if _is_download(path, query):
                downloads.setdefault(local, url)
                continue
            pattern = _pattern(path, query)
            if seen_patterns.get(pattern, 0) >= PER_PATTERN:
                continue
            seen_patterns[pattern] = seen_patterns.get(pattern, 0) + 1
            found_on.setdefault(local, url)
            queue.append(local)
    return downloads


def open_download(url: str, response) -> str:
    """Opens the file with the reader for its kind; returns the kind."""
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    content_type = response["Content-Type"]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if content_type.startswith("text/csv"):
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows and all(rows[0]), f"{url}: no header row"
        assert all(len(row) == len(rows[0]) for row in rows), f"{url}: ragged rows"
        return "csv"
    if "spreadsheetml" in content_type:
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows and all(rows[0]), f"{url}: no header row"
        return "xlsx"
    if content_type == "application/pdf":
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=body, capture_output=True, check=True
        ).stdout.decode()
        assert text.strip(), f"{url}: a PDF without text"
        return "pdf"
    if content_type.startswith(("application/json", "application/fhir+json")):
        assert json.loads(body) is not None
        return "json"
    if content_type.startswith("text/calendar"):
        from icalendar import Calendar

        assert Calendar.from_ical(body).walk("VEVENT")
        return "ics"
    raise AssertionError(f"{url}: a download of unknown type {content_type}")


def _signed_in(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))  # the demo's passwords are argon2's
    return client


STARTS = [
    "/worklist/",
    "/stays/",
    "/stays/inbound/",
    "/intake/",
    "/intake/?owner=none",
    "/intake/rules/",
    "/intake/rotation/",
    "/reports/",
    "/referrals/",
    "/referrals/?direction=inbound",
    "/referrals/?status=completed",
    "/clients/",
    "/services/",
    "/settings/agency/",
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email",
    ["coordinator@harbor-house.example.org", "administrator@riverbend-treatment.example.org"],
)
def test_every_download_link_a_page_renders_opens(demo, email):
    client = _signed_in(email)
    # Which eight clients the crawl meets first depends on the day's worklist; start also from
    # one whose ledger has entries, so the ledger's export is always among the links followed.
    disclosed = Disclosure.objects.filter(
        client__agency__in=User.objects.get(email=email).memberships.values("agency")
    ).first()
    downloads = crawl(client, [*STARTS, reverse("clients:detail", args=[disclosed.client_id])])
    kinds: dict[tuple[str, str], int] = {}
    for url, found_on in sorted(downloads.items()):
        kind = open_download(f"{url} (linked from {found_on})", client.get(url))
        parts = urlsplit(url)
        kinds[(resolve(parts.path).view_name, kind)] = (
            kinds.get((resolve(parts.path).view_name, kind), 0) + 1
        )
    print(f"{email}: {len(downloads)} download links followed and opened: {sorted(kinds)}")
    expected = {
        ("referrals:list", "csv"),
        ("referrals:list", "xlsx"),
        ("clients:disclosures", "csv"),
        ("referrals:packet_pdf", "pdf"),
        ("partners:list", "csv"),
        ("partners:list", "xlsx"),
        ("intake:index", "csv"),
        ("intake:index", "xlsx"),
        ("reports:index", "csv"),
        ("reports:index", "xlsx"),
        ("reports:scorecards", "csv"),
        ("reports:scorecards", "xlsx"),
        ("reports:review", "pdf"),
        ("reports:review", "csv"),
        ("reports:review", "xlsx"),
        ("reports:community", "csv"),
        ("reports:community", "xlsx"),
        ("fhir_referral_bundle", "json"),
    }
    assert expected <= set(kinds), f"not found by the crawl: {expected - set(kinds)}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email",
    ["coordinator@harbor-house.example.org", "administrator@riverbend-treatment.example.org"],
)
def test_every_link_a_page_renders_answers(demo, email):
    broken: dict[str, tuple[int, str]] = {}
    crawl(_signed_in(email), STARTS, broken)
    assert not broken, f"links that answer with an error: {broken}"


@pytest.mark.django_db
def test_the_public_directory_downloads_open(demo):
    client = Client()
    downloads = crawl(client, ["/directory/"])
    kinds = {
        (resolve(urlsplit(url).path).view_name, open_download(url, client.get(url)))
        for url in downloads
    }
    assert {
        ("public:export", "json"),
        ("public:export", "csv"),
        ("community_public", "csv"),  # the demo network's published scorecard, linked
        ("community_public", "xlsx"),
    } <= kinds


@pytest.mark.django_db
def test_the_referral_sheet_download_holds_what_the_list_counts(demo):
    client = _signed_in("coordinator@harbor-house.example.org")
    page = client.get("/referrals/?status=completed")
    count = page.context["page"].paginator.count
    assert count > 0
    response = client.get("/referrals/?status=completed&format=csv")
    assert response["Content-Disposition"].startswith('attachment; filename="referrals-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) - 1 == count
    sheet = load_workbook(
        io.BytesIO(client.get("/referrals/?status=completed&format=xlsx").content), read_only=True
    ).active
    assert len(list(sheet.iter_rows(values_only=True))) - 1 == count
