"""The <time> tags lists and pages show: relative wording, full date as the title."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.template import Context, Template
from django.utils import timezone

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _render(source: str, **context) -> str:
    return Template("{% load time_tags %}" + source).render(Context(context))


@time_machine.travel(NOW, tick=False)
def test_relative_time_past_and_future_with_the_full_date_in_the_agency_zone():
    with timezone.override("America/Chicago"):
        past = _render("{% relative_time at %}", at=NOW - timedelta(days=3, hours=2))
        future = _render("{% relative_time at 'First contact' %}", at=NOW + timedelta(hours=5))
    assert past == (
        '<time datetime="2026-11-21T13:30:00+00:00" title="Nov 21, 2026, 7:30 AM CST">'
        "3\xa0days, 2\xa0hours ago</time>"
    )
    assert future == (
        '<time datetime="2026-11-24T20:30:00+00:00" '
        'title="Nov 24, 2026, 2:30 PM CST — First contact">in 5\xa0hours</time>'
    )
    assert _render("{% relative_time at %}", at=None) == ""


@time_machine.travel(NOW, tick=False)
def test_is_past():
    source = "{% if at|is_past %}past{% else %}not{% endif %}"
    assert _render(source, at=NOW) == "past"
    assert _render(source, at=NOW + timedelta(seconds=1)) == "not"
    assert _render(source, at=None) == "not"
