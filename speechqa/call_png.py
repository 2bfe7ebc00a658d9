"""A call's timeline and scorecard as one PNG (`speechqa score CALL --png OUT.png`), for e-mail
and tickets where an HTML file will not do. Needs matplotlib: `pip install 'speechqa[plot]'`.

Drawn from the same data as the HTML page (speechqa.html_report.call_data, which calls it).
"""

from __future__ import annotations

from speechqa.errors import SpeechQAError
from speechqa.report import OPERATOR, SYMBOL, _fmt
from speechqa.timeline_svg import EVENT_COLOUR, PARTY_COLOUR


def write_png(data: dict, path: str, *, dpi: int = 110) -> None:
    """Render a call's data (speechqa.html_report.call_data) to `path` (PNG); OSError when it
    cannot be written."""
    plt = _pyplot()
    duration = max(data["duration_s"], 1.0)
    failed = [c for c in data["criteria"] if c["verdict"] == "fail"]
    fig = plt.figure(figsize=(14, 6 + 0.25 * (len(data["criteria"]) + len(failed))), dpi=dpi)
    grid = fig.add_gridspec(4, 1, height_ratios=[1.2 + 0.25 * len(failed), 1, 1, 0.2 * len(data["criteria"]) + 0.4])
    lanes, level, f0, table = (fig.add_subplot(grid[i]) for i in range(4))
    for ax in (level, f0):
        ax.sharex(lanes)
    _lanes(lanes, data, failed)
    _levels(level, data)
    _f0(f0, data)
    f0.set_xlabel("time (s)")
    lanes.set_xlim(0, duration)
    _table(table, data)
    total = "n/a" if data["score"]["total"] is None else f'{data["score"]["total"]:.0f} / 100'
    fig.suptitle(f'call {data["call_id"][:12]}  ·  score {total}  ·  {data["path"]}', fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SpeechQAError("--png needs matplotlib: pip install 'speechqa[plot]'", error_type="bad_config") from None
    return plt


def _lanes(ax, data, failed) -> None:
    rows = list(data["parties"]) + [c["id"] for c in failed]
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    for party in data["parties"]:
        ax.broken_barh([(s, e - s) for s, e in data["speech"][party]], (y[party] - 0.3, 0.6),
                       color=PARTY_COLOUR.get(party), alpha=0.5)
    for t in data["turns"]:
        if t["party"] in y:
            ax.broken_barh([(t["start_s"], t["end_s"] - t["start_s"])], (y[t["party"]] - 0.38, 0.76),
                           facecolor="none", edgecolor="#374151", linewidth=0.6)
    top, bottom = max(y[p] for p in data["parties"]) + 0.45, min(y[p] for p in data["parties"]) - 0.45
    for ev in data["events"]:
        s, e, colour = ev["start_s"], ev["end_s"], EVENT_COLOUR[ev["kind"]]
        if ev["kind"] in ("silence", "overtalk"):
            ax.axvspan(s, e, ymin=0, ymax=1, color=colour, alpha=0.25, lw=0)
        elif ev["party"] in y:
            row = y[ev["party"]]
            if ev["kind"] == "interruption":
                ax.plot([s], [row + 0.42], marker="v", color=colour, markersize=7)
                ax.broken_barh([(s, e - s)], (row - 0.3, 0.6), color=colour, alpha=0.3)
            elif ev["kind"] == "backchannel":
                ax.broken_barh([(s, e - s)], (row + 0.3, 0.1), color=colour)
            else:
                ax.broken_barh([(s, e - s)], (row - 0.4, 0.08), color=colour)
    for c in failed:
        ax.broken_barh([(m["start_s"], max(m["end_s"] - m["start_s"], 0.1)) for m in c["evidence"]],
                       (y[c["id"]] - 0.25, 0.5), color="#dc2626", alpha=0.8)
    ax.set_ylim(min(bottom, -0.5), max(top, len(rows) - 0.5))
    ax.set_yticks([y[r] for r in rows], rows, fontsize=8)
    ax.set_title("speech, turns, dead air (grey), overtalk (purple), interruptions (red ▼ who), "
                 "backchannels (green), failed criteria (red)", fontsize=9, loc="left")


def _levels(ax, data) -> None:
    band = data["thresholds"].get("level_band_dbfs")
    if band:
        ax.axhspan(band[0], band[1], color="#22c55e", alpha=0.12, lw=0)
    for t in data["turns"]:
        if t["level_dbfs"] is not None:
            ax.plot([t["start_s"], t["end_s"]], [t["level_dbfs"]] * 2, color=PARTY_COLOUR.get(t["party"]), lw=3)
    ax.margins(y=0.15)
    ax.set_ylabel("level dBFS", fontsize=8)


def _f0(ax, data) -> None:
    band = data["thresholds"].get("f0_band_hz")
    if band:
        ax.axhspan(band[0], band[1], color="#22c55e", alpha=0.12, lw=0)
    for party, track in data["f0"].items():
        times = [track["t0_s"] + i * track["step_s"] for i in range(len(track["hz"]))]
        ax.plot(times, [float("nan") if v is None else v for v in track["hz"]], color=PARTY_COLOUR.get(party), lw=0.9)
    ax.set_yscale("log")
    ax.set_ylabel("F0 Hz", fontsize=8)


def _table(ax, data) -> None:
    ax.axis("off")
    cells = [[SYMBOL[c["verdict"]], c["label"] or c["id"], _fmt(c["value"]),
              f'{OPERATOR[c["direction"]]} {_fmt(c["threshold"])}', _short(c["note"] or "", 80)] for c in data["criteria"]]
    if not cells:
        return
    table = ax.table(cellText=cells, colLabels=["", "criterion", "value", "threshold", "note"], loc="upper left",
                     cellLoc="left", colWidths=[0.05, 0.25, 0.08, 0.1, 0.52])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for i, c in enumerate(data["criteria"], start=1):
        if c["verdict"] == "fail":
            table[i, 0].get_text().set_color("#b91c1c")


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
