"""Small charts drawn on the server as inline SVG: no script or chart library to ship, they print,
and screen readers read them by their title and description (the numbers are in a table beside
each one as well)."""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 480, 160
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 16, 26  # room for the axis labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def short_date(value: datetime) -> str:
    """'Nov 24' in the active time zone (the agency's)."""
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}"


def step_chart(
    *,
    chart_id: str,
    steps: list[tuple[datetime, int]],
    start: datetime,
    end: datetime,
    title: str,
    description: str,
    reference: int | None = None,
    reference_label: str = "",
) -> SafeString:
    """A value that holds until it changes (a bed count), from `start` to `end`: `steps` are
    (when it changed, the new value), oldest first; one before `start` gives the value the chart
    opens with. The vertical scale runs from 0 to the largest value or the `reference` (drawn as
    a dashed line: a maximum). Empty when there are no steps."""
    if not steps or end <= start:
        return SafeString("")
    top = max([reference or 0, *(value for _, value in steps)]) or 1
    span = (end - start).total_seconds()

    # Coordinates as text with one decimal: format_html escapes its arguments into strings.
    def x(when: datetime) -> str:
        return (
            f"{LEFT + PLOT_WIDTH * min(1.0, max(0.0, (when - start).total_seconds() / span)):.1f}"
        )

    def y(value: int, shift: float = 0) -> str:
        return f"{TOP + PLOT_HEIGHT * (1 - value / top) + shift:.1f}"

    first_x = x(steps[0][0])
    line = [f"M{first_x} {y(steps[0][1])}"]
    for when, value in steps[1:]:
        line.append(f"H{x(when)} V{y(value)}")
    line.append(f"H{x(end)}")
    path = " ".join(line)
    bottom = TOP + PLOT_HEIGHT
    area = f"{path} V{bottom} H{first_x} Z"
    scale = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>',
        ((LEFT - 6, y(value, 4), value) for value in sorted({0, top, reference or 0})),
    )
    reference_line = (
        format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-reference"/>'
            '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>',
            LEFT,
            WIDTH - RIGHT,
            y(reference),
            y(reference),
            WIDTH - RIGHT,
            y(reference, -4),
            reference_label,
        )
        if reference is not None
        else ""
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-baseline"/>'
        '<path d="{}" class="chart-area"/><path d="{}" class="chart-line"/>{}{}'
        '<text x="{}" y="{}" class="chart-axis">{}</text>'
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        LEFT,
        WIDTH - RIGHT,
        bottom,
        bottom,
        area,
        path,
        reference_line,
        scale,
        LEFT,
        HEIGHT - 8,
        short_date(start),
        WIDTH - RIGHT,
        HEIGHT - 8,
        short_date(end),
    )


def paired_bar_chart(
    *, chart_id: str, bars: list[tuple[str, int, int]], labels: tuple[str, str], title: str
) -> SafeString:
    """Two counts side by side per period (referrals received vs sent each month): `bars` are
    (period label, first, second), oldest first. The legend names the two series; the numbers
    are in a table beside the chart as well."""
    if not bars:
        return SafeString("")
    top = max(max(first, second) for _, first, second in bars) or 1
    slot = PLOT_WIDTH / len(bars)
    width = max(2.0, slot / 2 - 2)
    bottom = TOP + PLOT_HEIGHT

    def height(value: int) -> float:
        return PLOT_HEIGHT * value / top

    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}: {} {}</title></rect>',
        (
            (
                f"{LEFT + slot * index + offset:.1f}",
                f"{bottom - height(value):.1f}",
                f"{width:.1f}",
                f"{height(value):.1f}",
                css,
                period,
                value,
                label,
            )
            for index, (period, first, second) in enumerate(bars)
            for offset, value, css, label in (
                (1, first, "chart-bar", labels[0]),
                (1 + width, second, "chart-bar-alt", labels[1]),
            )
        ),
    )
    description = "; ".join(
        f"{period}: {first} {labels[0]}, {second} {labels[1]}" for period, first, second in bars
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-baseline"/>{}'
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="chart-axis">{}</text>'
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        LEFT,
        WIDTH - RIGHT,
        bottom,
        bottom,
        rects,
        LEFT - 6,
        TOP + 4,
        top,
        LEFT,
        HEIGHT - 8,
        bars[0][0],
        WIDTH - RIGHT,
        HEIGHT - 8,
        bars[-1][0],
    )


def rate_line_chart(
    *, chart_id: str, points: list[tuple[str, float | None]], title: str, description: str
) -> SafeString:
    """A percentage over time (0–100 %): `points` are (period label, value or None when the
    period has no data), oldest first; the line breaks where there is no data. Empty when no
    point has a value."""
    if not any(value is not None for _, value in points):
        return SafeString("")
    slot = PLOT_WIDTH / max(1, len(points) - 1)
    bottom = TOP + PLOT_HEIGHT

    def x(index: int) -> str:
        return f"{LEFT + (slot * index if len(points) > 1 else PLOT_WIDTH / 2):.1f}"

    def y(value: float) -> str:
        return f"{TOP + PLOT_HEIGHT * (1 - value / 100):.1f}"

    segments, current = [], []
    for index, (_, value) in enumerate(points):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{'M' if not current else 'L'}{x(index)} {y(value)}")
    if current:
        segments.append(current)
    path = " ".join(" ".join(segment) for segment in segments)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="chart-dot"><title>{}: {}%</title></circle>',
        (
            (x(index), y(value), label, value)
            for index, (label, value) in enumerate(points)
            if value is not None
        ),
    )
    scale = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}%</text>',
        ((LEFT - 6, f"{float(y(value)) + 4:.1f}", value) for value in (0, 50, 100)),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-baseline"/>'
        '<path d="{}" class="chart-line"/>{}{}'
        '<text x="{}" y="{}" class="chart-axis">{}</text>'
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        LEFT,
        WIDTH - RIGHT,
        bottom,
        bottom,
        path,
        dots,
        scale,
        LEFT,
        HEIGHT - 8,
        points[0][0],
        WIDTH - RIGHT,
        HEIGHT - 8,
        points[-1][0],
    )


BAR_ROW, BAR_LABEL = 24, 170  # a bar's height with its gap; room for the labels on the left


def bar_chart(
    *, chart_id: str, bars: list[tuple[str, int | None]], title: str, unit: str = ""
) -> SafeString:
    """Counts side by side as horizontal bars, largest first as given: `bars` are (label, count
    or None when the count is not shown -- then the row says `hidden` instead of a bar). The
    description reads every bar out; the numbers are in a table beside the chart as well.
    Empty when no bar has a count."""
    if not any(value is not None for _, value in bars):
        return SafeString("")
    top = max(value for _, value in bars if value is not None) or 1
    height = TOP + BAR_ROW * len(bars) + 4
    room = WIDTH - BAR_LABEL - RIGHT - 40  # and 40 for the number after the bar

    def length(value: int) -> float:
        return room * value / top

    rows = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>{}',
        (
            (
                BAR_LABEL - 6,
                f"{TOP + BAR_ROW * index + 15:.1f}",
                label if len(label) <= 24 else f"{label[:23]}…",
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="chart-bar">'
                    "<title>{}: {} {}</title></rect>"
                    '<text x="{}" y="{}" class="chart-axis">{}</text>',
                    BAR_LABEL,
                    f"{TOP + BAR_ROW * index + 3:.1f}",
                    f"{max(1.0, length(value)):.1f}",
                    BAR_ROW - 8,
                    label,
                    value,
                    unit,
                    f"{BAR_LABEL + max(1.0, length(value)) + 4:.1f}",
                    f"{TOP + BAR_ROW * index + 15:.1f}",
                    value,
                )
                if value is not None
                else format_html(
                    '<text x="{}" y="{}" class="chart-axis">hidden</text>',
                    BAR_LABEL + 4,
                    f"{TOP + BAR_ROW * index + 15:.1f}",
                ),
            )
            for index, (label, value) in enumerate(bars)
        ),
    )
    description = "; ".join(
        f"{label}: {'hidden' if value is None else f'{value} {unit}'.strip()}"
        for label, value in bars
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-baseline"/>{}</svg>',
        WIDTH,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        BAR_LABEL,
        BAR_LABEL,
        TOP - 4,
        height - 4,
        rows,
    )
