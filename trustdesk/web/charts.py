"""Small SVG charts for the dashboard, drawn on the server: no chart library, no script, and
every label escaped (subscriber ids and kinds come from outside)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777")


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    names: Mapping[str, str],
    title: str,
) -> str:
    """Columns per label, each stacked by series (complaints per day by kind), with a legend."""
    width, height, left, bottom, top = 640, 240, 36, 28, 12
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    slot = (width - left - 8) / max(1, len(labels))
    parts = [_open(width, height + 24 * ((len(series) + 3) // 4), title)]
    parts.append(_axis(left, top, height - bottom, peak))
    for i, label in enumerate(labels):
        x, y = left + i * slot + slot * 0.15, float(height - bottom)
        for index, (_kind, values) in enumerate(series.items()):
            h = (height - bottom - top) * values[i] / peak
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}: '
                    f"{values[i]}</title></rect>"
                )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts += _legend([names.get(kind, kind) for kind in series], height + 4, width)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(rows: Sequence[tuple[str, int]], title: str, color: str = PALETTE[0]) -> str:
    """One bar per row with its label and count (open cases by state, top subscribers)."""
    width, row_height, label_width = 640, 22, 220
    height = max(1, len(rows)) * row_height + 8
    peak = max((count for _, count in rows), default=0) or 1
    parts = [_open(width, height, title)]
    for i, (label, count) in enumerate(rows):
        y = 4 + i * row_height
        bar = (width - label_width - 60) * count / peak
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{bar:.1f}" height="{row_height - 6}" '
            f'fill="{color}"/>'
            f'<text x="{label_width + bar + 6:.1f}" y="{y + 15}" font-size="12">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f"<title>{escape(title)}</title>"
    )


def _axis(left: int, top: int, base: int, peak: int) -> str:
    return (
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#999"/>'
        f'<line x1="{left}" y1="{base}" x2="640" y2="{base}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 10}" font-size="10" text-anchor="end">{peak}</text>'
        f'<text x="{left - 4}" y="{base}" font-size="10" text-anchor="end">0</text>'
    )


def _legend(names: Sequence[str], y: int, width: int) -> list[str]:
    parts, column = [], width // 4
    for index, name in enumerate(names):
        x, row = (index % 4) * column + 8, y + (index // 4) * 20
        parts.append(
            f'<rect x="{x}" y="{row + 4}" width="12" height="12" '
            f'fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{x + 18}" y="{row + 14}" font-size="12">{escape(name)}</text>'
        )
    return parts
