"""The night report as one self-contained HTML page, drawn from `speechqa.night_report.night_data`
(figures already aggregated): per-day bars, each criterion's verdict shares with its daily trend,
the agents against their own earlier weeks and the team, the queues, histograms, and the worst calls.

Plain SVG written here, as for the call page (speechqa.timeline_svg): no script is needed to
draw it, and the figures are also in the page as JSON (`<script id="night-data">`).
"""

from __future__ import annotations

from html import escape

from speechqa.html_report import page

BAR = "#2563a8"
FAIL = "#dc2626"
MUTED = "#d1d5db"


def night_html(data: dict, *, scorecards_command: str | None = None) -> str:
    """The page. `scorecards_command`: the command line that writes the worst calls' pages,
    shown when some are missing."""
    p = data["period"]
    head = (f'<header><h1>Night report {p["since"]} – {p["until"]}</h1>'
            f'<div class="score">mean score <b>{_num(data["score_mean"])}</b>'
            f'<span class="muted"> (four weeks before: {_num(data["baseline_score_mean"])})</span></div>'
            f'<p class="muted">{escape(data["warehouse"])} · {data["calls"]} calls, {data["scored"]} scored '
            f'({data["calls"] - data["scored"]} not scored: too little measured) · '
            f'{data["errors"]["files"]} files failing now{_error_types(data["errors"])}</p></header>')
    body = [head, _days(data["days"]), _criteria(data["criteria"], data["days"]), _agents(data["agents"]),
            _queues(data["queues"]), _distributions(data["distributions"]), _worst(data["worst"], scorecards_command)]
    return page(f"speechqa · night {p['since']} – {p['until']}", "".join(body), data=data, data_id="night-data")


def _days(days: list[dict]) -> str:
    width, height, left = 760, 150, 40
    most = max([d["calls"] for d in days] + [1])
    step = (width - left) / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        x = left + i * step + 1
        h_scored = d["scored"] / most * (height - 30)
        h_not = d["not_scored"] / most * (height - 30)
        y0 = height - 18
        bars.append(f'<g class="day" data-date="{d["date"]}" data-calls="{d["calls"]}" data-scored="{d["scored"]}">'
                    f'<title>{d["date"]}: {d["calls"]} calls, {d["scored"]} scored, {d["with_fail"]} failed a criterion, '
                    f'mean score {_num(d["score_mean"])}</title>'
                    f'<rect x="{x:.1f}" y="{y0 - h_scored:.1f}" width="{step - 2:.1f}" height="{h_scored:.1f}" fill="{BAR}"/>'
                    f'<rect x="{x:.1f}" y="{y0 - h_scored - h_not:.1f}" width="{step - 2:.1f}" height="{h_not:.1f}" fill="{MUTED}"/>'
                    + (f'<text class="tick" x="{x + step / 2:.1f}" y="{height - 4}" text-anchor="middle">{d["date"][5:]}</text>'
                       if len(days) <= 31 or i % max(1, len(days) // 15) == 0 else "") + "</g>")
    axis = f'<text class="tick" x="{left - 4}" y="16" text-anchor="end">{most}</text>'
    svg = f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{axis}{"".join(bars)}</svg>'
    rows = "".join(f'<tr><td>{d["date"]}</td><td class="num">{d["calls"]}</td><td class="num">{d["scored"]}</td>'
                   f'<td class="num">{d["not_scored"]}</td><td class="num">{d["with_fail"]}</td><td class="num">{d["fatal"]}</td>'
                   f'<td class="num">{_num(d["score_mean"])}</td></tr>' for d in days)
    return ('<section><h2>Calls per day</h2><p class="legend"><span class="key"><i style="background:#2563a8"></i>scored</span>'
            '<span class="key"><i style="background:#d1d5db"></i>not scored</span></p>' + svg +
            '<details><summary>table</summary><table id="days"><thead><tr><th>day</th><th class="num">calls</th>'
            '<th class="num">scored</th><th class="num">not scored</th><th class="num">failed a criterion</th>'
            '<th class="num">fatal</th><th class="num">mean score</th></tr></thead><tbody>' + rows + "</tbody></table></details></section>")


def _criteria(criteria: list[dict], days: list[dict]) -> str:
    rows = []
    for c in criteria:
        total = max(c["pass"] + c["fail"] + c["abstain"], 1)
        shares = [(c["pass"] / total, "#16a34a"), (c["fail"] / total, FAIL), (c["abstain"] / total, MUTED)]
        x, parts = 0.0, []
        for share, colour in shares:
            parts.append(f'<rect x="{x * 200:.1f}" y="2" width="{share * 200:.1f}" height="12" fill="{colour}"/>')
            x += share
        trend = [d["fail_share"].get(c["id"]) for d in days]
        rows.append(
            f'<tr class="criterion" data-criterion="{escape(c["id"])}" data-pass="{c["pass"]}" data-fail="{c["fail"]}" '
            f'data-abstain="{c["abstain"]}"><td>{escape(c["label"] or c["id"])}<div class="muted">{escape(c["id"])}</div></td>'
            f'<td><svg width="200" height="16">{"".join(parts)}</svg></td>'
            f'<td class="num">{c["pass"]}</td><td class="num">{c["fail"]}</td><td class="num">{c["abstain"]}</td>'
            f'<td class="num">{_pct(c["fail_share"])}</td><td>{_sparkline(trend)}</td></tr>')
    return ('<section><h2>Criteria</h2><p class="muted">over the scored calls; fail share = fail / (pass + fail); '
            'the trend is the fail share per day</p><table id="criteria"><thead><tr><th>criterion</th><th>pass / fail / abstain</th>'
            '<th class="num">pass</th><th class="num">fail</th><th class="num">abstain</th><th class="num">fail share</th>'
            '<th>trend</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></section>")


def _agents(agents: list[dict]) -> str:
    rows = "".join(
        f'<tr class="agent" data-agent="{escape(str(a["agent_id"]))}" data-calls="{a["calls"]}">'
        f'<td>{escape(str(a["agent_id"]))}</td><td class="num">{a["calls"]}</td><td class="num">{a["scored"]}</td>'
        f'<td class="num">{_num(a["score_mean"])}</td><td class="num">{_delta(a["vs_own"])}'
        f'<div class="muted">{_num(a["baseline_score_mean"])} over {a["baseline_calls"]} calls</div></td>'
        f'<td class="num">{_delta(a["vs_team"])}</td>'
        f'<td>{_failed_most(a["failed_most"])}</td></tr>'
        for a in agents)
    return ('<section><h2>Agents</h2><p class="muted">mean score over the period against the agent\'s own four weeks '
            'before it and against the team\'s mean; the criteria each fails most (fail share)</p>'
            '<table id="agents"><thead><tr><th>agent</th><th class="num">calls</th><th class="num">scored</th>'
            '<th class="num">score</th><th class="num">vs own earlier</th><th class="num">vs team</th>'
            '<th>failed most</th></tr></thead><tbody>' + rows + "</tbody></table></section>")


def _queues(queues: list[dict]) -> str:
    rows = []
    for q in queues:
        judged = ", ".join(f"[batch.overrides.{o}]" for o in q["overrides"])
        note = f'<div class="muted">judged under {escape(judged)}</div>' if judged else ""
        rows.append(
            f'<tr class="queue" data-queue="{escape(q["queue"])}" data-calls="{q["calls"]}" data-scored="{q["scored"]}" '
            f'data-failed="{q["with_fail"]}"><td>{escape(q["queue"])}{note}</td>'
            f'<td class="num">{q["calls"]}</td><td class="num">{q["scored"]}</td><td class="num">{q["with_fail"]}</td>'
            f'<td class="num">{_num(q["score_mean"])}</td><td>{_failed_most(q["failed_most"])}</td></tr>')
    return ('<section><h2>Queues</h2><p class="muted">failed: scored calls failing at least one criterion; '
            'a queue judged under its own [batch.overrides] entry has its own thresholds, so its figures '
            'are not comparable with the others\' as they stand</p>'
            '<table id="queues"><thead><tr><th>queue</th><th class="num">calls</th><th class="num">scored</th>'
            '<th class="num">failed</th><th class="num">score</th><th>failed most</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def _distributions(distributions: list[dict]) -> str:
    charts = []
    for d in distributions:
        charts.append(f'<div><h3>{escape(d["label"])}</h3><p class="muted">{_caption(d)}</p>{_histogram(d)}</div>')
    return '<section><h2>Distributions</h2><div class="grid2">' + "".join(charts) + "</div></section>"


def _caption(d: dict) -> str:
    text = f'{d["n"]} calls'
    if d.get("median") is not None:
        text += f', median {d["median"]:.3g}'
    if d["threshold"] is not None:
        text += f' · threshold {d["threshold"]:g} ({escape(d["criterion"])})'
    return text


def _failed_most(failed: list[dict]) -> str:
    return ", ".join(f'{escape(f["id"])} {_pct(f["fail_share"])}' for f in failed) or "—"


def _histogram(d: dict) -> str:
    width, height, pad = 360, 120, 16
    if not d["counts"]:
        return '<p class="muted">no values</p>'
    edges, counts = d["edges"], d["counts"]
    lo, hi, most = edges[0], edges[-1], max(max(counts), 1)
    x = lambda v: pad + (v - lo) / (hi - lo) * (width - 2 * pad)   # noqa: E731
    bars = "".join(
        f'<rect class="bin" x="{x(edges[i]):.1f}" y="{height - 18 - c / most * (height - 30):.1f}" '
        f'width="{max(x(edges[i + 1]) - x(edges[i]) - 1, 1):.1f}" height="{c / most * (height - 30):.1f}" fill="{BAR}" '
        f'data-count="{c}"><title>{edges[i]:g} – {edges[i + 1]:g}: {c}</title></rect>' for i, c in enumerate(counts))
    line = ""
    if d["threshold"] is not None:
        tx = x(d["threshold"])
        line = (f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="6" y2="{height - 18}" stroke="{FAIL}" stroke-dasharray="4 2"/>')
        if d["direction"] == "abs_max":
            line += (f'<line x1="{x(-d["threshold"]):.1f}" x2="{x(-d["threshold"]):.1f}" y1="6" y2="{height - 18}" '
                     f'stroke="{FAIL}" stroke-dasharray="4 2"/>') if lo <= -d["threshold"] <= hi else ""
    ticks = (f'<text class="tick" x="{pad}" y="{height - 4}">{lo:.3g}</text>'
             f'<text class="tick" x="{width - pad}" y="{height - 4}" text-anchor="end">{hi:.3g}</text>')
    return (f'<svg class="chart hist" data-metric="{escape(d["metric"])}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{bars}{line}{ticks}</svg>')


def _worst(worst: list[dict], command: str | None) -> str:
    rows = []
    for w in worst:
        page_link = f'<a href="{escape(w["scorecard"])}">scorecard</a>' if w["scorecard"] else '<span class="muted">—</span>'
        legs = f'<div class="muted">two legs, with {escape(w["source_caller_path"])}</div>' if w["source_caller_path"] else ""
        rows.append(f'<tr class="worst" data-call="{escape(w["call_id"])}"><td>{w["call_date"]}</td>'
                    f'<td>{escape(str(w["agent_id"]))}</td><td>{escape(str(w["queue"] or "—"))}</td>'
                    f'<td class="num">{_num(w["score_total"])}</td>'
                    f'<td>{escape(", ".join(w["failed"]))}</td><td>{escape(w["source_path"] or "")}{legs}</td>'
                    f'<td>{page_link}</td></tr>')
    how = (f'; to write the missing ones (their recordings are scored again): <code>{escape(command)}</code>'
           if command and any(not w["scorecard"] for w in worst) else "")
    return ('<section><h2>Worst calls</h2><p class="muted">lowest scores of the period; a call\'s page '
            f'(<code>&lt;call_id&gt;.html</code>) is linked when it is beside this report{how}</p>'
            '<table id="worst"><thead><tr><th>day</th><th>agent</th><th>queue</th><th class="num">score</th><th>failed</th>'
            '<th>recording (as stored)</th><th></th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></section>")


def _sparkline(values: list[float | None]) -> str:
    width, height = 140, 22
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return '<span class="muted">—</span>'
    step = width / max(len(values) - 1, 1)
    path = " L".join(f"{i * step:.1f},{height - 2 - v * (height - 4):.1f}" for i, v in points)
    return (f'<svg class="spark" width="{width}" height="{height}"><path d="M{path}" fill="none" stroke="{FAIL}" '
            f'stroke-width="1.3"/></svg>')


def _error_types(errors: dict) -> str:
    if not errors["by_type"]:
        return ""
    return " (" + ", ".join(f"{escape(t)} {n}" for t, n in errors["by_type"].items()) + ")"


def _delta(value) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    cls = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{cls}">{value:+.1f}</span>'


def _pct(share) -> str:
    return "—" if share is None else f"{share:.0%}"


def _num(value) -> str:
    return "—" if value is None else f"{value:.1f}"
