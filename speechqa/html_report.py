"""A call's scorecard as one self-contained HTML file (`speechqa score CALL --html OUT.html`).

The page holds its styles, its script, its data (a JSON block, `<script id="call-data">`) and
the timeline SVG (speechqa.timeline_svg): nothing is fetched, so it opens offline. The audio is
embedded only when asked (`audio_html`): recordings are personal data, so by default the page
names the source path and nothing more.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np

from speechqa import timeline_svg
from speechqa.call import CallResult
from speechqa.config import ScoreConfig
from speechqa.report import OPERATOR, SYMBOL, _clock, _fmt, failed_marks, to_json

MAX_F0_POINTS = 4000   # per party: the contour is a median per step, so an hour's call stays light
_AUDIO_BLOCK = 1 << 16   # samples per channel encoded at a time for the embedded player


def call_data(result: CallResult, *, score: ScoreConfig | None = None) -> dict:
    """What the page draws: `speechqa score --json`'s object, with turns carrying their level and
    F0, every event, each party's speech, decimated F0 contours and the thresholds drawn in."""
    m, derived = result.measurement, result.assessment.derived
    data = to_json(result)
    parties = [p for p in ("agent", "caller", "call") if p in m.speech]
    data["parties"] = parties
    data["speech"] = {p: [[round(float(s), 3), round(float(e), 3)] for s, e in m.speech[p]] for p in parties}
    data["turns"] = [{"party": t.party, "start_s": round(t.start_s, 3), "end_s": round(t.end_s, 3),
                      "level_dbfs": _r(t.level_dbfs), "f0_median_hz": _r(t.f0_median_hz)} for t in m.turns]
    data["events"] = [{"kind": e.kind, "party": e.party, "start_s": round(e.start_s, 3), "end_s": round(e.end_s, 3)}
                      for e in sorted(derived.events, key=lambda e: (e.start_s, e.kind))]
    data["f0"] = {p: _contour(m.pitch[p], m.speech.get(p)) for p in parties if p in m.pitch and m.pitch[p].f0_hz.size}
    data["thresholds"] = _thresholds(result, score)
    data["utterance_marks"] = failed_marks(result)
    data["view"] = {"px_per_s": round(timeline_svg.px_per_s(m.duration_s), 4), "left_px": timeline_svg.LEFT_PX}
    return data


def call_html(result: CallResult, *, score: ScoreConfig | None = None, audio_html: str = "") -> str:
    """The page. `score` (the [score] the call was judged under) adds the dead-air and long-pause
    thresholds to the marks; `audio_html` is `audio_element(...)` or empty."""
    data = call_data(result, score=score)
    total = "n/a" if data["score"]["total"] is None else f'{data["score"]["total"]:.0f}'
    audio_html = audio_html or (f'<p class="muted">Recording not embedded (personal data): {escape(result.path)}. '
                                "Render with <code>--embed-audio</code> to play it here.</p>")
    body = [
        f'<header><h1>Call {escape(result.call_id[:12])}</h1><div class="score">score <b>{total}</b>'
        f'<span class="muted"> / 100</span></div>',
        f'<p class="muted">{escape(result.path)} · {result.measurement.duration_s:.1f} s · {result.channels} ch · '
        f'{result.sample_rate_hz} Hz · {escape(result.source_format)} · agent: {escape(_agent(result))}</p></header>',
        audio_html,
        '<section><h2>Timeline</h2><p class="legend">' + _legend() + "</p>"
        '<div id="scroller">' + timeline_svg.render(data) + "</div></section>",
        _scorecard_html(data),
        _transcript_html(data),
        _metrics_html(data),
    ]
    return page(f"speechqa · call {result.call_id[:12]}", "".join(body), data=data, script="call.js")


def write_call_files(result: CallResult, *, html: str | None = None, png: str | None = None,
                     embed_audio: bool = False, score: ScoreConfig | None = None,
                     max_duration_s: float = 14400.0) -> None:
    """Write the call's page and/or picture (`speechqa score --html/--png`); OSError when a file
    cannot be written."""
    if html:
        audio = audio_element(result.path, max_duration_s=max_duration_s) if embed_audio else ""
        Path(html).write_text(call_html(result, score=score, audio_html=audio), encoding="utf-8")
    if png:
        from speechqa.call_png import write_png

        write_png(call_data(result, score=score), png)


def audio_element(path: str, *, max_duration_s: float = 14400.0) -> str:
    """The recording as an <audio> element with the sound inline: Ogg Opus at the analysis rate
    (what every current browser plays, ~2 kB per second of stereo), WAV where libsndfile has no
    Opus."""
    import soundfile as sf

    from speechqa.audio import read_audio

    buffer = io.BytesIO()
    opus = "OPUS" in sf.available_subtypes("OGG")
    with read_audio(path, max_duration_s=max_duration_s) as recording:
        samples, rate = recording.samples, recording.sample_rate_hz
        kind = dict(format="OGG", subtype="OPUS") if opus else dict(format="WAV", subtype="PCM_16")
        with sf.SoundFile(buffer, "w", rate, samples.shape[0], **kind) as out:
            for a in range(0, samples.shape[1], _AUDIO_BLOCK):   # the samples a block at a time
                out.write(np.ascontiguousarray(samples[:, a:a + _AUDIO_BLOCK].T))
    mime = "audio/ogg" if opus else "audio/wav"
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<audio id="audio" controls preload="auto" src="data:{mime};base64,{encoded}"></audio>'


def _thresholds(result: CallResult, score: ScoreConfig | None) -> dict:
    metrics = result.metrics
    by_metric = {v.metric: v.threshold for v in result.verdicts}
    out: dict = {"level_diff_db": by_metric.get("level_diff_db"), "f0_sd_st": by_metric.get("agent_f0_sd_st"),
                 "dead_air_max_s": by_metric.get("silence_max_s")}
    caller_level = metrics.get("caller_level_dbfs")
    if out["level_diff_db"] is not None and caller_level is not None:
        out["level_band_dbfs"] = [round(caller_level - out["level_diff_db"], 2), round(caller_level + out["level_diff_db"], 2)]
    median = metrics.get("agent_f0_median_hz")
    if out["f0_sd_st"] is not None and median:
        out["f0_band_hz"] = [round(median * 2 ** (-out["f0_sd_st"] / 12), 1), round(median * 2 ** (out["f0_sd_st"] / 12), 1)]
    if score is not None:
        out["dead_air_s"] = score.timing.dead_air_s
        out["long_pause_s"] = score.timing.long_pause_s
    return out


def _contour(track, speech) -> dict:
    """The F0 track within the party's speech, as the median of voiced frames per step (Hz;
    null where nothing is voiced), at most MAX_F0_POINTS steps."""
    f0 = np.asarray(track.f0_hz, dtype=np.float64).copy()
    t = np.arange(f0.size) * track.hop_s
    if speech is not None and len(speech):
        inside = np.zeros(f0.size, dtype=bool)
        for s, e in speech:
            inside[(t >= s) & (t < e)] = True
        f0[~inside] = 0.0
    step = max(1, int(np.ceil(f0.size / MAX_F0_POINTS)))
    hz = []
    for i in range(0, f0.size, step):
        voiced = f0[i:i + step]
        voiced = voiced[voiced > 0]
        hz.append(round(float(np.median(voiced)), 1) if voiced.size else None)
    return {"t0_s": round(track.hop_s * (step - 1) / 2, 4), "step_s": round(track.hop_s * step, 4), "hz": hz}


def _scorecard_html(data: dict) -> str:
    score = data["score"]
    rows = []
    for c in data["criteria"]:
        first = c["evidence"][0]["start_s"] if c["evidence"] else None
        times = " ".join(f'<a href="#" data-t="{e["start_s"]}" data-criterion="{escape(c["id"])}">'
                         f'{_clock(e["start_s"])}–{_clock(e["end_s"])}</a>' for e in c["evidence"][:8])
        more = f' <span class="muted">+{len(c["evidence"]) - 8}</span>' if len(c["evidence"]) > 8 else ""
        t_attr = f' data-t="{first}"' if first is not None else ""
        rows.append(
            f'<tr class="criterion v-{c["verdict"]}" data-criterion="{escape(c["id"])}" data-verdict="{c["verdict"]}"{t_attr}>'
            f'<td class="verdict">{SYMBOL[c["verdict"]]}</td><td>{escape(c["label"] or c["id"])}'
            f'<div class="muted">{escape(c["id"])}{" · fatal" if c["fatal"] else ""}</div></td>'
            f'<td class="num">{_fmt(c["value"])}</td><td>{escape(OPERATOR[c["direction"]])} {_fmt(c["threshold"])}</td>'
            f'<td class="num">{c["weight"]:g}</td><td>{times}{more}<div class="muted">{escape(c["note"] or "")}</div></td></tr>')
    lines = [f'<p>decided weight {score["decided_weight"]:.0%} · abstained {score["abstained_weight"]:.0%}</p>']
    if score["not_scored"]:
        lines.append(f'<p class="warn">not scored: {escape(score["not_scored"])}</p>')
    if score["fatal_failures"]:
        lines.append(f'<p class="warn">fatal: {escape(", ".join(score["fatal_failures"]))}</p>')
    if score["abstentions"]:
        lines.append('<ul class="abstentions">' + "".join(
            f'<li>{a["weight"]:.0%} abstained: {escape(a["reason"])} <span class="muted">({escape(", ".join(a["criteria"]))})</span></li>'
            for a in score["abstentions"]) + "</ul>")
    flags = [k for k in ("narrowband", "clipping", "dual_mono", "crosstalk", "truncated") if data["quality"].get(k)]
    snr = data["quality"].get("snr_db")
    lines.append(f'<p>quality: {escape(", ".join(flags) or "no flags")}'
                 f'{"" if snr is None else f" · SNR {snr:.0f} dB"}</p>')
    return ('<section id="scorecard"><h2>Scorecard</h2>' + "".join(lines) +
            '<table><thead><tr><th></th><th>criterion</th><th>value</th><th>threshold</th><th>weight</th>'
            '<th>evidence / note</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></section>")


def _transcript_html(data: dict) -> str:
    if data["utterances"]:
        rows = [f'<li class="utt party-{escape(u["party"])}" data-t="{u["start_s"]}" data-start="{u["start_s"]}" '
                f'data-end="{u["end_s"]}"><span class="time">{_clock(u["start_s"])}</span>'
                f'<span class="who">{escape(u["party"])}</span> <span class="text">{escape(u["text"])}</span>'
                + "".join(f' <span class="flag" data-criterion="{escape(i)}">{escape(i)}</span>' for i in marks) + "</li>"
                for u, marks in zip(data["utterances"], data["utterance_marks"])]
        head = f'<h2>Transcript <span class="muted">({escape(str(data["language"]))}, PII masked)</span></h2>'
    else:
        rows = [f'<li class="utt party-{escape(t["party"])}" data-t="{t["start_s"]}" data-start="{t["start_s"]}" '
                f'data-end="{t["end_s"]}"><span class="time">{_clock(t["start_s"])}</span>'
                f'<span class="who">{escape(t["party"])}</span> <span class="muted">{_turn_text(t)}</span></li>'
                for t in data["turns"]]
        head = '<h2>Turns <span class="muted">(no transcript: the call was not transcribed)</span></h2>'
    return f'<section>{head}<ol id="transcript">{"".join(rows)}</ol></section>'


def _turn_text(turn: dict) -> str:
    level = "" if turn["level_dbfs"] is None else f', {turn["level_dbfs"]:.1f} dBFS'
    return f'turn, {turn["end_s"] - turn["start_s"]:.1f} s{level}'


def _metrics_html(data: dict) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{_fmt(v)}</td></tr>" for k, v in data["metrics"].items())
    return f'<section><details><summary>Metrics</summary><table class="metrics">{rows}</table></details></section>'


def _legend() -> str:
    items = [("agent", timeline_svg.PARTY_COLOUR["agent"]), ("caller", timeline_svg.PARTY_COLOUR["caller"])]
    items += [(name, timeline_svg.EVENT_COLOUR[kind]) for name, kind in
              (("dead air", "silence"), ("overtalk", "overtalk"), ("interruption (▼ who)", "interruption"),
               ("backchannel", "backchannel"), ("pause", "pause"))]
    return " ".join(f'<span class="key"><i style="background:{c}"></i>{escape(n)}</span>' for n, c in items) + \
        ' <span class="key"><i class="band"></i>threshold</span> <span class="muted">click a mark, a time or a row to jump there</span>'


def _agent(result: CallResult) -> str:
    roles = result.measurement.roles
    return f"{roles.agent_channel or 'n/a'} ({roles.method})"


def page(title: str, body: str, *, data: dict, data_id: str = "call-data", script: str | None = None) -> str:
    """One HTML file: the shared stylesheet, the body, the data as JSON (`<script
    type="application/json" id=data_id>`) and the page's script (an asset), if any."""
    css = _asset("report.css")
    text = json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")
    data_block = f'<script type="application/json" id="{data_id}">{text}</script>'
    js = f"<script>{_asset(script)}</script>" if script else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><style>{css}</style></head><body>{body}{data_block}'
            f'{js}</body></html>\n')


def _asset(name: str) -> str:
    return resources.files("speechqa").joinpath("assets", name).read_text(encoding="utf-8")


def _r(value, digits: int = 2):
    return None if value is None else round(float(value), digits)
