"""Small server-rendered SVG charts (no JavaScript, no CDN): stacked bars and lines.

Every label goes through ``escape``; the output is built only from numbers we computed and
escaped text, which is why it may be marked safe.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#2f6fb0", "#e0a030", "#3a9a5b", "#c0473a", "#7b5ea7", "#5f7d8c", "#b0589a", "#8a8a3a"]
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36
LEGEND_CHARS = 21


def _frame(title: str, body: list[str], legend: list[tuple[str, str]], y_max: float, y_format) -> SafeString:
    plot_height = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 18 * ((len(legend) + 3) // 4)}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = y_max * step / 4
        y = TOP + plot_height - plot_height * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{escape(y_format(value))}</text>'
        )
    parts += body
    for index, (name, color) in enumerate(legend):
        x = LEFT + (index % 4) * 150
        y = HEIGHT + 4 + 18 * (index // 4)
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>')
        # A legend slot is 150 units wide: a longer name (a supplier's) that would run into the
        # next entry on its row is cut, in full on hover.
        crowded = index % 4 != 3 and index + 1 < len(legend)
        short = name if not crowded or len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1].rstrip() + "…"
        parts.append(
            f'<text x="{x + 14}" y="{y + 9}" font-size="11">{escape(short)}<title>{escape(name)}</title></text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only (see module docstring)


def _x_labels(labels: list[str], slot: float) -> list[str]:
    every = max(1, len(labels) // 8)
    return [
        f'<text x="{LEFT + slot * (index + 0.5):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
        f'text-anchor="middle">{escape(label)}</text>'
        for index, label in enumerate(labels)
        if index % every == 0
    ]


def stacked_bars(title: str, labels: list[str], series: dict[str, list[float]], names: dict[str, str]) -> SafeString:
    totals = [sum(values[index] for values in series.values()) for index in range(len(labels))]
    y_max = max([*totals, 1])
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body, legend = [], []
    base = [0.0] * len(labels)
    for position, (key, values) in enumerate(series.items()):
        color = PALETTE[position % len(PALETTE)]
        legend.append((names.get(key, key), color))
        for index, value in enumerate(values):
            if not value:
                continue
            height = plot_height * value / y_max
            y = TOP + plot_height - plot_height * base[index] / y_max - height
            body.append(
                f'<rect x="{LEFT + slot * index + 1:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{escape(labels[index])}: '
                f"{escape(names.get(key, key))} {value:g}</title></rect>"
            )
            base[index] += value
    return _frame(title, body + _x_labels(labels, slot), legend, y_max, lambda v: f"{v:.0f}")


def lines(
    title: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    *,
    y_max: float | None = None,
    y_format=None,
    join_gaps: bool = False,
) -> SafeString:
    """One line per series; a None is no point and breaks the line, unless ``join_gaps`` (a rate
    measured only on some days, where a weekend without figures is no break in the trend)."""
    values = [value for points in series.values() for value in points if value is not None]
    y_max = y_max or max([*values, 0]) or 1.0
    y_format = y_format or (lambda v: f"{v:.1f}")
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body, legend = [], []
    for position, (name, points) in enumerate(series.items()):
        color = PALETTE[position % len(PALETTE)]
        legend.append((name, color))
        segment: list[str] = []
        for index, value in enumerate([*points, None]):
            if value is None and join_gaps and index < len(points):
                continue
            if value is None:
                if len(segment) > 1:
                    body.append(
                        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            x = LEFT + slot * (index + 0.5)
            y = TOP + plot_height - plot_height * min(value, y_max) / y_max
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{escape(labels[index])}: '
                f"{escape(name)} {escape(y_format(value))}</title></circle>"
            )
    return _frame(title, body + _x_labels(labels, slot), legend, y_max, y_format)
