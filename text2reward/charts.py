"""Charts for the report: inline SVG, no plotting library, nothing fetched."""

from __future__ import annotations

import math
from typing import Any

from text2reward.pagekit import esc, num

PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#4d2d00")
Series = tuple[str, list[float], list[float]]


def line_chart(
    title: str,
    series: list[Series],
    y_label: str,
    hline: float | None = None,
    dashed: tuple[str, ...] = (),
    width: int = 560,
    height: int = 300,
) -> str:
    """A line chart as an inline <svg> in a <figure>, with an HTML legend below it."""
    clean = []
    for name, xs, ys in series:
        points = [(x, y) for x, y in zip(xs, ys, strict=True) if _finite(y)]
        if points:
            clean.append((name, [x for x, _ in points], [y for _, y in points]))
    if not clean:
        return f'<figure class="chart"><figcaption>{esc(title)}: no data</figcaption></figure>'
    all_x = [x for _, xs, _ in clean for x in xs]
    all_y = [y for _, _, ys in clean for y in ys] + ([hline] if _finite(hline) else [])
    left, right, top, bottom = 62, 14, 30, 42
    xt, yt = _ticks(min(all_x), max(all_x)), _ticks(min(all_y), max(all_y))
    sx = lambda x: left + (x - xt[0]) / (xt[-1] - xt[0]) * (width - left - right)  # noqa: E731
    sy = lambda y: height - bottom - (y - yt[0]) / (yt[-1] - yt[0]) * (height - top - bottom)  # noqa: E731
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img">',
        f"<title>{esc(title)}</title>",
        f'<text x="{left}" y="18" font-size="13" font-weight="600" fill="#1f2328">'
        f"{esc(title)}</text>",
    ]
    for y in yt:
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#656d76">{_tick_label(y)}</text>'
        )
    for x in xt:
        out.append(
            f'<text x="{sx(x):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
            f'fill="#656d76">{_tick_label(x)}</text>'
        )
    out.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" font-size="11" '
        f'text-anchor="middle" fill="#656d76">training steps</text>'
        f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" font-size="11" '
        f'text-anchor="middle" fill="#656d76">{esc(y_label)}</text>'
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" '
        f'fill="none" stroke="#d0d7de"/>'
    )
    if _finite(hline):
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(hline):.1f}" y2="{sy(hline):.1f}" '
            f'stroke="#57606a" stroke-dasharray="6 4"/>'
        )
    legend = []
    for k, (name, xs, ys) in enumerate(clean):
        color = PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if name in dashed else ""
        points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
        )
        out += [
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>'
            for x, y in zip(xs, ys, strict=True)
        ]
        legend.append(f'<span><i style="background:{color}"></i>{esc(name)}</span>')
    if _finite(hline):
        legend.append(
            f'<span><i style="background:#57606a"></i>success threshold ({num(hline)})</span>'
        )
    out.append("</svg>")
    return (
        f'<figure class="chart">{"".join(out)}<div class="legend">{"".join(legend)}</div></figure>'
    )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values that cover [lo, hi]; the first and last bound the axis."""
    if hi - lo < 1e-12:
        lo, hi = lo - max(abs(lo) * 0.1, 0.5), hi + max(abs(hi) * 0.1, 0.5)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, stop = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return [start + k * step for k in range(round((stop - start) / step) + 1)]


def _tick_label(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.4g}k"
    return f"{value:.4g}" if abs(value) >= 1e-9 else "0"



def score_chart(results: list[tuple[str, dict]], threshold: float | None) -> str:
    series = [
        (
            label,
            [p["step"] for p in r.get("snapshots", []) if p.get("score") is not None],
            [p["score"] for p in r.get("snapshots", []) if p.get("score") is not None],
        )
        for label, r in results
    ]
    return line_chart("task score over training", series, "task score", hline=threshold)


def component_chart(result: dict[str, Any]) -> str:
    snaps = [p for p in result.get("snapshots", []) if p.get("components") is not None]
    names = sorted({n for p in snaps for n in p["components"]})
    series = [
        (n, [p["step"] for p in snaps], [p["components"].get(n, math.nan) for p in snaps])
        for n in names
    ]
    series.append(
        (
            "total reward",
            [p["step"] for p in snaps],
            [p.get("reward_return", math.nan) for p in snaps],
        )
    )
    return line_chart(
        "reward components (sum per episode)", series, "return", dashed=("total reward",)
    )
