"""Small self-contained SVG line plots: one measure against the swept parameter.

No plotting library: the plots are a few dozen elements, and a file that
opens in any browser with no network beats a dependency. Numeric x values
are placed to scale (log scale when they span more than a factor of 50);
anything else (a choice such as ``loop``) is placed as evenly spaced
categories.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 36, 48


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _label(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= hi + step / 2]


#: Line colours, one per series (colour-blind safe, Okabe and Ito).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000",
           "#f0e442")


def line_plot(xs: list[Any], lines: list[tuple[str, list[float | None]]], *, title: str,
              xlabel: str, ylabel: str) -> str:
    """An SVG document: each line's values against ``xs`` (missing values leave gaps).

    A line is (label, values aligned with ``xs``); labelled lines get a legend.
    """
    numeric = all(_is_number(x) for x in xs) and len(set(xs)) == len(xs)
    log_x = numeric and min(xs) > 0 and max(xs) / min(xs) > 50
    n = len(xs)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:
        if numeric:
            lo, hi = (math.log10(min(xs)), math.log10(max(xs))) if log_x else (min(xs), max(xs))
            v = math.log10(xs[i]) if log_x else xs[i]
            return LEFT + (0.5 if hi == lo else (v - lo) / (hi - lo)) * plot_w
        return LEFT + (i + 0.5) / max(n, 1) * plot_w

    present = [y for _, line in lines for y in line if y is not None and math.isfinite(y)]
    ymax = max(present, default=1.0)
    ymin = min(0.0, min(present, default=0.0))
    ticks = _nice_ticks(ymin, ymax if ymax > ymin else ymin + 1.0)
    top_v = max(ticks[-1], ymax)

    def y_of(v: float) -> float:
        return TOP + plot_h - (v - ymin) / ((top_v - ymin) or 1.0) * plot_h

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
           f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{escape(title)}' "
           "font-family='sans-serif'>",
           f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>",
           f"<text x='{WIDTH / 2}' y='20' font-size='14' text-anchor='middle'>"
           f"{escape(title)}</text>",
           f"<line x1='{LEFT}' y1='{TOP + plot_h}' x2='{LEFT + plot_w}' y2='{TOP + plot_h}' "
           "stroke='#333'/>",
           f"<line x1='{LEFT}' y1='{TOP}' x2='{LEFT}' y2='{TOP + plot_h}' stroke='#333'/>"]
    for t in ticks:
        if t > top_v + 1e-12:
            continue
        ty = y_of(t)
        out.append(f"<line x1='{LEFT}' y1='{ty:.1f}' x2='{LEFT + plot_w}' y2='{ty:.1f}' "
                   "stroke='#eee'/>")
        out.append(f"<text x='{LEFT - 6}' y='{ty + 4:.1f}' font-size='11' "
                   f"text-anchor='end'>{escape(f'{t:.4g}')}</text>")
    # Thin the x labels so they never overlap (about 60 px each).
    every = max(1, math.ceil(n / (plot_w / 60)))
    for i in range(n):
        if i % every and i != n - 1:
            continue
        out.append(f"<text x='{x_of(i):.1f}' y='{TOP + plot_h + 16}' font-size='11' "
                   f"text-anchor='middle'>{escape(_label(xs[i]))}</text>")
    out.append(f"<text x='{LEFT + plot_w / 2}' y='{HEIGHT - 8}' font-size='12' "
               f"text-anchor='middle'>{escape(xlabel)}{' (log scale)' if log_x else ''}</text>")
    mid = TOP + plot_h / 2
    out.append(f"<text x='14' y='{mid}' font-size='12' text-anchor='middle' "
               f"transform='rotate(-90 14 {mid})'>{escape(ylabel)}</text>")
    for number, (label, line) in enumerate(lines):
        colour = COLOURS[number % len(COLOURS)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, y in enumerate(line):
            if y is None or not math.isfinite(y):
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x_of(i):.1f},{y_of(y):.1f}")
            out.append(f"<circle cx='{x_of(i):.1f}' cy='{y_of(y):.1f}' r='3' fill='{colour}'>"
                       f"<title>{escape(label + ' ' if label else '')}{escape(_label(xs[i]))}: "
                       f"{y:.6g}</title></circle>")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' "
                           f"points='{' '.join(seg)}'/>")
        if label:
            ly = TOP + 14 + 16 * number
            out.append(f"<line x1='{LEFT + 10}' y1='{ly - 4}' x2='{LEFT + 28}' y2='{ly - 4}' "
                       f"stroke='{colour}' stroke-width='2'/>")
            out.append(f"<text x='{LEFT + 34}' y='{ly}' font-size='11'>{escape(label)}</text>")
    if not present:
        out.append(f"<text x='{LEFT + plot_w / 2}' y='{TOP + plot_h / 2}' font-size='13' "
                   "text-anchor='middle' fill='#888'>no data at any point</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
