"""A subscriber's daily traffic against the median and mean, as a small SVG (pure).

The console shows it beside a bandwidth-control flag (seed 002 §25-3): bars for the subscriber,
lines for everyone's median and mean and the threshold the policy calls "far above". Text is
escaped: a subscriber id is data, not markup.
"""

from __future__ import annotations

from html import escape

from trustdesk.network.traffic import HeavyUser

_WIDTH, _HEIGHT, _PAD = 640, 240, 40
_GIB = 2**30


def svg(user: HeavyUser) -> str:
    points = user.chart
    top = max([p.total for p in points] + [p.threshold for p in points] + [1])
    step = (_WIDTH - 2 * _PAD) / max(len(points), 1)

    def y(value: int) -> float:
        return _HEIGHT - _PAD - (_HEIGHT - 2 * _PAD) * value / top

    def line(values: list[int], colour: str, label: str) -> str:
        coords = " ".join(f"{_PAD + step * (i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(values))
        return (
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{label}</title></polyline>"
        )

    bars = "".join(
        f'<rect x="{_PAD + step * i + step * 0.15:.1f}" y="{y(p.total):.1f}" '
        f'width="{step * 0.7:.1f}" height="{_HEIGHT - _PAD - y(p.total):.1f}" fill="#4a7ab5">'
        f"<title>{p.day.isoformat()}: {p.total / _GIB:.2f} GiB</title></rect>"
        f'<text x="{_PAD + step * (i + 0.5):.1f}" y="{_HEIGHT - _PAD + 14}" font-size="10" '
        f'text-anchor="middle">{p.day.strftime("%m-%d")}</text>'
        for i, p in enumerate(points)
    )
    title = escape(f"{user.subscriber}: daily traffic (GiB), max {top / _GIB:.2f}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" font-family="sans-serif">'
        f'<text x="{_PAD}" y="20" font-size="12">{title}</text>'
        f"{bars}"
        + line([p.median for p in points], "#2e8b57", "median")
        + line([p.mean for p in points], "#999999", "mean")
        + line([p.threshold for p in points], "#c0392b", "threshold (far above)")
        + f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" y2="{_HEIGHT - _PAD}" '
        'stroke="#333"/></svg>\n'
    )
