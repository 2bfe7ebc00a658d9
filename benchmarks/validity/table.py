"""The validity suite's results as Markdown tables (the README's validity section)."""

from __future__ import annotations

from benchmarks.validity.suite import Call, Outcome, Skipped, Step, fmt, tolerance


def _cell(items) -> str:
    items = list(items)
    return "; ".join(items) if items else "none"


def perturbation_table(outcomes: list[tuple[str, Outcome | Skipped]]) -> str:
    """One row per (call, outcome)."""
    rows = ["| call | perturbation | metric moved (expected) | criteria changed | expected verdicts | "
            "other metrics beyond tolerance | holds |",
            "|---|---|---|---|---|---|---|"]
    for label, o in outcomes:
        if isinstance(o, Skipped):
            rows.append(f"| {label} | {o.case.what} | skipped: {o.reason} | | | | |")
            continue
        moved = [f"{e.metric} {e.moved(b, a)} ({e.describe()})" for e, b, a, _ in o.moved]
        changed = [f"{c}: {b} -> {a}" + (" (on its threshold)" if c in o.edge else "") for c, b, a in o.changed]
        expected = [f"{c} {v}" + (" (already)" if (c, v) in o.already else "")
                    for c, v in o.targets.items()]
        others = list(o.others)
        rows.append(f"| {label} | {o.case.what} | {_cell(moved)} | {_cell(changed)} | {_cell(expected) if expected else 'no change'} "
                    f"| {_cell(others)} | {'yes' if o.ok else 'NO: ' + '; '.join(o.problems)} |")
    return "\n".join(rows)


def ladder_table(call: Call, steps: list[Step]) -> str:
    rows = ["| rung | what | SNR measured (dB) | ASR confidence | words | quality gate | criteria changed | "
            "decided -> other decision |",
            "|---|---|---|---|---|---|---|---|",
            f"| clean | as recorded | {fmt(call.metric('snr_db'))} | {fmt(call.metric('asr_confidence'))} "
            f"| {fmt(call.metric('words_total'))} | passes | | |"]
    for s in steps:
        m = s.result.metrics
        changed = [f"{c}: {b} -> {a}" for c, b, a in s.changed]
        gate = "poor: all abstain" if s.poor else "passes"
        flipped = _cell(s.flipped) + ("" if s.ok else " (NOT abstained)")
        rows.append(f"| {s.name} | {s.note} | {fmt(m['snr_db'])} | {fmt(m['asr_confidence'])} | {fmt(m['words_total'])} "
                    f"| {gate} | {_cell(changed)} | {flipped} |")
    return "\n".join(rows)


def holds_table(call: Call, noise: list[Step], codecs: list[Step]) -> str:
    """For each followed metric: the tolerance, the lowest SNR down to which it held at every
    rung, and whether it held through each codec."""
    header = "| metric | clean | tolerance | holds down to SNR | " + " | ".join(s.name for s in codecs) + " |"
    rows = [header, "|" + "---|" * (4 + len(codecs))]
    for metric in (noise or codecs)[0].held:
        clean = call.metric(metric)
        down_to = "not at " + noise[0].note if noise and not noise[0].held[metric] else ""
        for s in noise:
            if not s.held[metric]:
                break
            down_to = s.note.replace("SNR ", "")
        marks = ["yes" if s.held[metric] else fmt(s.result.metrics[metric]) for s in codecs]
        tol = "n/a" if clean is None else f"±{tolerance(metric, clean):.3g}"
        rows.append(f"| {metric} | {fmt(clean)} | {tol} | {down_to} | " + " | ".join(marks) + " |")
    return "\n".join(rows)
