"""The server-drawn rate chart: a line that breaks where a period has no data, a dot with its
value per period, titled and described for screen readers, nothing when nothing is known."""

import re

from referloop.core.charts import rate_line_chart


def test_the_line_breaks_at_a_period_without_data():
    svg = str(
        rate_line_chart(
            chart_id="t",
            points=[("Mar 2", 50.0), ("Mar 9", None), ("Mar 16", 100.0), ("Mar 23", 0.0)],
            title="Receipt confirmed",
            description="Mar 2: 50%",
        )
    )
    path = re.search(r'<path d="([^"]+)" class="chart-line"', svg).group(1)
    assert path.count("M") == 2  # two pieces: before and after the empty week
    assert svg.count("<circle") == 3
    assert "<title>Mar 16: 100.0%</title>" in svg
    assert '<title id="t-title">Receipt confirmed</title>' in svg
    assert 'aria-labelledby="t-title t-desc"' in svg


def test_nothing_is_drawn_without_data():
    assert rate_line_chart(chart_id="t", points=[("Mar 2", None)], title="x", description="") == ""
