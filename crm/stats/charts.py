"""The dashboard's charts, drawn on the server as inline SVG.

Offices often have no internet and old browsers: an SVG in the page needs no script, no
library and no file of its own, scales to a phone's width, and prints. Each chart has a
<title> and <desc> for screen readers, and the page shows the same numbers in a table
beside it, so a chart is never the only way to read a figure.
"""

from markupsafe import Markup, escape

COLOURS = ("#4a6fa5", "#2e7d32")  # first and second series: collected, resolved
BAR = "#b3261e"
FONT = 'font-family="inherit" font-size="11" fill="#444"'


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]):
    head = (
        f'<svg class="stats-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'style="max-width:{width}px" aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text in it is escaped


def _nice_max(value: int) -> int:
    """A round top for the axis at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def trend_chart(
    chart_id: str,
    months: list[tuple[str, int, int]],
    *,
    series: tuple[str, str],
    title: str,
    desc: str,
) -> Markup:
    """Bars of two series side by side for each month: ``months`` is (label, first,
    second), e.g. ("2026-03", collected, resolved)."""
    left, top, bottom, right = 36, 28, 46, 8
    group = 34
    plot_h = 150
    width = max(300, left + right + group * len(months))
    height = top + plot_h + bottom
    peak = _nice_max(max((max(a, b) for _m, a, b in months), default=0))
    body = []
    for share in (0, 0.5, 1):  # grid lines and their values
        y = top + plot_h - plot_h * share
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>'
            f"{_tick(peak * share)}</text>"
        )
    for name, colour, x in zip(series, COLOURS, (left, left + 110), strict=True):
        body.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="15" {FONT}>{escape(name)}</text>'
        )
    bar_w = (group - 8) / 2
    for i, (label, *values) in enumerate(months):
        x0 = left + i * group + 4
        for j, (value, colour) in enumerate(zip(values, COLOURS, strict=True)):
            h = plot_h * value / peak
            body.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(label)} {escape(series[j])}: {value}</title></rect>"
            )
        cx = x0 + bar_w
        ty = top + plot_h + 12
        body.append(
            f'<text x="{cx:.1f}" y="{ty}" text-anchor="end" '
            f'transform="rotate(-45 {cx:.1f} {ty})" {FONT}>{escape(label)}</text>'
        )
    return _svg(chart_id, width, height, title, desc, body)


def bar_chart(chart_id: str, rows: list[tuple[str, int]], *, title: str, desc: str) -> Markup:
    """Horizontal bars, one per (label, value), longest first as given."""
    label_w, bar_max, row_h, pad = 150, 330, 22, 6
    width = label_w + bar_max + 50
    height = pad * 2 + row_h * max(len(rows), 1)
    peak = max((value for _label, value in rows), default=0) or 1
    body = []
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = bar_max * value / peak
        text = str(label)
        short = text if len(text) <= 12 else text[:11] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {FONT}>'
            f"<title>{escape(text)}</title>{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{BAR}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" {FONT}>{value}</text>'
        )
    return _svg(chart_id, width, height, title, desc, body)


def _tick(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"
