"""The call's timeline as one SVG: both parties' speech and turns, overtalk, interruptions (who),
dead air, backchannels and pauses, the failed criteria at their evidence, and per-turn level and
the F0 contours on the same time axis with the thresholds the criteria use.

Drawn from the data `speechqa.html_report.call_data` embeds in the page (one source for what the
page shows and what a reader or test parses). Plain SVG written here: no plotting library, so a
scorecard stays a few tens of kilobytes and draws with scripts off.
"""

from __future__ import annotations

import math
from html import escape

PARTY_COLOUR = {"agent": "#2563a8", "caller": "#d97706", "call": "#555555"}
EVENT_COLOUR = {"silence": "#9ca3af", "overtalk": "#7c3aed", "interruption": "#dc2626",
                "backchannel": "#16a34a", "pause": "#cbd5e1"}
LEFT_PX = 110          # the lane names
RIGHT_PX = 20
MIN_PX_PER_S = 4.0     # a long call scrolls rather than squeezing a 0.5 s interruption into a pixel
WIDTH_PX = 1100        # a short call fills this
LANE_H = 26
PANEL_H = 110


def px_per_s(duration_s: float) -> float:
    return max(MIN_PX_PER_S, (WIDTH_PX - LEFT_PX - RIGHT_PX) / max(duration_s, 1.0))


def render(data: dict) -> str:
    """The <svg> for one call's data (see speechqa.html_report.call_data)."""
    pps = data["view"]["px_per_s"]
    duration = data["duration_s"]
    width = LEFT_PX + duration * pps + RIGHT_PX
    x = lambda t: LEFT_PX + t * pps   # noqa: E731
    parts: list[str] = []
    y = 22
    parts.append(_axis(duration, x, y - 8, pps))
    lane_y = {}
    for party in data["parties"]:
        lane_y[party] = y
        parts.append(_label(y + LANE_H / 2, party, PARTY_COLOUR.get(party)))
        parts.append(f'<line class="lane-base" x1="{x(0):.1f}" x2="{x(duration):.1f}" y1="{y + LANE_H:.1f}" y2="{y + LANE_H:.1f}"/>')
        for s, e in data["speech"].get(party, []):
            parts.append(_rect("speech", x(s), y + 6, (e - s) * pps, LANE_H - 12, fill=PARTY_COLOUR.get(party),
                               attrs={"data-party": party, "data-t": s}))
        y += LANE_H + 6
    lanes_top, lanes_bottom = min(lane_y.values(), default=y), y
    for turn in data["turns"]:
        ty = lane_y.get(turn["party"])
        if ty is None:
            continue
        parts.append(_rect("turn", x(turn["start_s"]), ty + 2, (turn["end_s"] - turn["start_s"]) * pps, LANE_H - 4,
                           attrs={"data-party": turn["party"], "data-start": turn["start_s"], "data-end": turn["end_s"],
                                  "data-t": turn["start_s"]},
                           title=f'{turn["party"]} turn {_clock(turn["start_s"])}-{_clock(turn["end_s"])}'))
    for ev in data["events"]:
        parts.append(_event(ev, x, pps, lane_y, lanes_top, lanes_bottom, data["thresholds"]))
    if data["utterances"]:   # what was said, on the time axis: hover for the (masked) text, click to jump
        parts.append(_label(y + 7, "said", "#333", small=True))
        for i, u in enumerate(data["utterances"]):
            row = y + (0 if u["party"] != "caller" else 7)
            parts.append(_rect("said", x(u["start_s"]), row, (u["end_s"] - u["start_s"]) * pps, 6,
                               fill=PARTY_COLOUR.get(u["party"]),
                               attrs={"data-party": u["party"], "data-utterance": i, "data-t": u["start_s"]},
                               title=f'{u["party"]} {_clock(u["start_s"])}: {u["text"]}'))
        y += 16
    y += 4
    failed = [c for c in data["criteria"] if c["verdict"] == "fail"]
    for c in failed:
        parts.append(_label(y + 9, c["id"], "#b91c1c", small=True))
        for mark in c["evidence"]:
            s, e = mark["start_s"], mark["end_s"]
            parts.append(_rect("evidence", x(s), y + 2, max((e - s) * pps, 3), 14,
                               attrs={"data-criterion": c["id"], "data-start": s, "data-end": e, "data-t": s},
                               title=f'{c["label"] or c["id"]}: {_clock(s)}-{_clock(e)}'))
        y += 18
    y += 8
    parts.append(_level_panel(data, x, y))
    y += PANEL_H + 14
    parts.append(_f0_panel(data, x, y))
    y += PANEL_H + 10
    parts.append(f'<line id="cursor" x1="{x(0):.1f}" x2="{x(0):.1f}" y1="10" y2="{y:.1f}"/>')
    return (f'<svg id="timeline" width="{width:.0f}" height="{y:.0f}" viewBox="0 0 {width:.0f} {y:.0f}" '
            f'role="img" aria-label="timeline of the call">' + "".join(parts) + "</svg>")


def _event(ev, x, pps, lane_y, top, bottom, thresholds) -> str:
    kind, party, s, e = ev["kind"], ev["party"], ev["start_s"], ev["end_s"]
    attrs = {"data-kind": kind, "data-party": party or "", "data-start": s, "data-end": e, "data-t": s}
    w = max((e - s) * pps, 2)
    title = f"{kind}{' by ' + party if party else ''} {_clock(s)}-{_clock(e)} ({e - s:.1f} s)"
    if kind in ("silence", "overtalk"):   # both lanes: nobody, or both, speaking
        extra = "dead-air" if kind == "silence" else "overtalk"
        if kind == "silence" and thresholds.get("dead_air_max_s") is not None and e - s > thresholds["dead_air_max_s"]:
            extra += " over"
        return _rect(f"event {extra}", x(s), top, w, bottom - top - 6, fill=EVENT_COLOUR[kind], attrs=attrs, title=title)
    ly = lane_y.get(party)
    if ly is None:
        return ""
    if kind == "interruption":
        cx = x(s)
        return (f'<g class="event interruption" {_attrs(attrs)}><title>{escape(title)}</title>'
                f'<rect x="{cx:.1f}" y="{ly:.1f}" width="{w:.1f}" height="{LANE_H:.0f}" fill="{EVENT_COLOUR[kind]}" fill-opacity="0.25"/>'
                f'<path d="M{cx - 5:.1f},{ly - 5:.1f} L{cx + 5:.1f},{ly - 5:.1f} L{cx:.1f},{ly + 3:.1f} Z" fill="{EVENT_COLOUR[kind]}"/></g>')
    if kind == "backchannel":
        return _rect("event backchannel", x(s), ly + 1, w, 5, fill=EVENT_COLOUR[kind], attrs=attrs, title=title)
    long_s = thresholds.get("long_pause_s")
    cls = "event pause long" if long_s is not None and e - s >= long_s else "event pause"
    return _rect(cls, x(s), ly + LANE_H - 5, w, 4, fill=EVENT_COLOUR[kind], attrs=attrs, title=title)


def _level_panel(data, x, top) -> str:
    turns = [t for t in data["turns"] if t["level_dbfs"] is not None]
    parts = [_label(top + PANEL_H / 2, "level dBFS", "#333")]
    levels = [t["level_dbfs"] for t in turns] + [v for v in data["thresholds"].get("level_band_dbfs") or []]
    if not levels:
        return "".join(parts) + _note(x(0), top + PANEL_H / 2, "no turn long enough for a level")
    lo, hi = math.floor(min(levels) - 3), math.ceil(max(levels) + 3)
    y = lambda v: top + PANEL_H - (v - lo) / (hi - lo) * PANEL_H   # noqa: E731
    parts.append(_frame(x, top, data["duration_s"], lo, hi, y, unit=" dB"))
    band = data["thresholds"].get("level_band_dbfs")
    if band:
        parts.append(f'<rect class="threshold-band" x="{x(0):.1f}" y="{y(band[1]):.1f}" width="{x(data["duration_s"]) - x(0):.1f}" '
                     f'height="{y(band[0]) - y(band[1]):.1f}"><title>the caller\'s level ± the loudness threshold '
                     f'({data["thresholds"]["level_diff_db"]} dB): the agent passes inside</title></rect>')
    for t in turns:
        parts.append(f'<line class="level" data-party="{t["party"]}" x1="{x(t["start_s"]):.1f}" x2="{x(t["end_s"]):.1f}" '
                     f'y1="{y(t["level_dbfs"]):.1f}" y2="{y(t["level_dbfs"]):.1f}" stroke="{PARTY_COLOUR.get(t["party"])}">'
                     f'<title>{t["party"]} {t["level_dbfs"]:.1f} dBFS</title></line>')
    return "".join(parts)


def _f0_panel(data, x, top) -> str:
    parts = [_label(top + PANEL_H / 2, "F0 Hz", "#333")]
    values = [v for track in data["f0"].values() for v in track["hz"] if v]
    band = data["thresholds"].get("f0_band_hz")
    if not values:
        return "".join(parts) + _note(x(0), top + PANEL_H / 2, "no voiced speech tracked")
    lo = max(30.0, min(values + (band or [])) * 0.9)
    hi = max(values + (band or [])) * 1.1
    y = lambda v: top + PANEL_H - math.log(v / lo) / math.log(hi / lo) * PANEL_H   # noqa: E731
    parts.append(_frame(x, top, data["duration_s"], lo, hi, y, unit=" Hz"))
    if band:
        parts.append(f'<rect class="threshold-band" x="{x(0):.1f}" y="{y(band[1]):.1f}" width="{x(data["duration_s"]) - x(0):.1f}" '
                     f'height="{y(band[0]) - y(band[1]):.1f}"><title>the agent\'s median F0 ± the pitch variation threshold '
                     f'({data["thresholds"]["f0_sd_st"]} st SD): a voice varying less than this is flat</title></rect>')
    for party, track in data["f0"].items():
        runs, run = [], []
        for i, hz in enumerate(track["hz"]):
            if hz:
                run.append(f"{x(track['t0_s'] + i * track['step_s']):.1f},{y(hz):.1f}")
            elif run:
                runs.append(run)
                run = []
        runs.append(run)
        d = " ".join("M" + " L".join(r) for r in runs if len(r) > 1)
        dots = "".join(f'<circle cx="{r[0].split(",")[0]}" cy="{r[0].split(",")[1]}" r="1.2"/>' for r in runs if len(r) == 1)
        parts.append(f'<g class="f0" data-party="{party}" stroke="{PARTY_COLOUR.get(party)}" fill="{PARTY_COLOUR.get(party)}">'
                     f'<path d="{d}" fill="none"/>{dots}</g>')
    return "".join(parts)


def _frame(x, top, duration, lo, hi, y, *, unit) -> str:
    ticks = "".join(
        f'<text class="tick" x="{x(0) - 4:.1f}" y="{y(v) + 3:.1f}" text-anchor="end">{v:.0f}{unit}</text>'
        for v in (lo, hi))
    return (f'<rect class="panel" x="{x(0):.1f}" y="{top:.1f}" width="{x(duration) - x(0):.1f}" height="{PANEL_H}"/>' + ticks)


def _axis(duration, x, y, pps) -> str:
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800) if s * pps >= 60)
    out = []
    t = 0.0
    while t <= duration + 1e-9:
        out.append(f'<text class="tick" x="{x(t):.1f}" y="{y:.1f}" text-anchor="middle">{_clock(t, tenths=False)}</text>')
        out.append(f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y + 3:.1f}" y2="100000"/>')
        t += step
    return "".join(out)


def _label(y, text, colour, *, small=False) -> str:
    cls = "lane-label small" if small else "lane-label"
    return f'<text class="{cls}" x="6" y="{y + 4:.1f}" fill="{colour or "#333"}">{escape(text)}</text>'


def _note(x0, y, text) -> str:
    return f'<text class="tick" x="{x0 + 6:.1f}" y="{y:.1f}">{escape(text)}</text>'


def _rect(cls, x0, y0, w, h, *, fill=None, attrs=None, title=None) -> str:
    fill_attr = f' fill="{fill}"' if fill else ""
    inner = f"<title>{escape(title)}</title>" if title else ""
    return (f'<rect class="{cls}" x="{x0:.1f}" y="{y0:.1f}" width="{max(w, 1):.1f}" height="{h:.1f}"{fill_attr} '
            f'{_attrs(attrs or {})}>{inner}</rect>')


def _attrs(attrs: dict) -> str:
    return " ".join(f'{k}="{escape(str(v))}"' for k, v in attrs.items())


def _clock(seconds: float, *, tenths: bool = True) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}" if tenths else f"{int(minutes)}:{int(rest):02d}"
