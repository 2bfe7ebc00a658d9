"""What the night report shows, aggregated from the warehouse's `calls/` and `errors/` tables
alone (no audio): `speechqa report WAREHOUSE --html night.html`.

Everything is aggregated here, with pyarrow, before anything is drawn: the page holds per-day,
per-criterion, per-agent and per-queue figures, binned histograms and the worst calls, never one
row per call, so a warehouse of 100,000 calls gives a page of the same size as one of 100.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from speechqa.config import Config
from speechqa.errors import SpeechQAError
from speechqa.tables import table_schema
from speechqa.warehouse import Warehouse

VERDICT_PREFIX = "verdict_"
DISTRIBUTIONS = (   # metric, label: the histograms
    ("agent_talk_share", "agent talk share"),
    ("silence_max_s", "longest dead air (s)"),
    ("level_diff_db", "level difference agent − caller (dB)"),
    ("rate_ratio", "speaking rate ratio agent / caller"),
    ("agent_f0_sd_st", "agent F0 SD (semitones)"),
)
BINS = 24
WORST = 20           # worst calls listed
BASELINE_DAYS = 28   # an agent's own earlier weeks: the four weeks before the period
TOP_FAILED = 3       # criteria named per agent and per queue
NO_KEY = "(none)"    # the group of the calls with no agent id, or no queue


@dataclass(frozen=True)
class Period:
    since: date
    until: date

    @property
    def baseline_since(self) -> date:
        return self.since - timedelta(days=BASELINE_DAYS)


def night_data(warehouse: str | Path, *, config: Config, since: date | None = None, until: date | None = None,
               scorecards_dir: Path | None = None) -> dict:
    """The report's figures. The period is [since, until] (call_date, both days included); by
    default the last 7 days up to the latest call. `scorecards_dir`: where worst calls' pages
    (`<call_id>.html`) are looked for, to link them."""
    if not Path(warehouse).is_dir():
        raise SpeechQAError(f"{warehouse} is not a folder: give the warehouse folder `speechqa batch --out` wrote",
                            error_type="bad_warehouse")
    if since is not None and until is not None and since > until:
        raise SpeechQAError(f"--since {since} is after --until {until}", error_type="bad_config")
    wh = Warehouse(warehouse)
    names = _columns(wh)
    verdicts = sorted(n for n in names if n.startswith(VERDICT_PREFIX))
    metrics = [m for m, _ in DISTRIBUTIONS if m in names]
    wanted = ["call_id", "call_date", "agent_id", "queue", "config_override", "source_path", "source_caller_path",
              "score_total", "score_fatal_failures", "duration_s", *metrics, *verdicts]
    calls = wh.read("calls", columns=[c for c in wanted if c in names])
    latest = pc.max(calls["call_date"]).as_py() if calls.num_rows else None
    until = until or latest or date.today()
    period = Period(since=since or until - timedelta(days=6), until=until)
    days = calls["call_date"]
    now = calls.filter(pc.and_(pc.greater_equal(days, period.since), pc.less_equal(days, period.until)))
    before = calls.filter(pc.and_(pc.greater_equal(days, period.baseline_since), pc.less(days, period.since)))
    criteria = [v[len(VERDICT_PREFIX):] for v in verdicts]
    labels = {c.id: c.label for c in config.score.criteria}
    return {
        "warehouse": str(warehouse),
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat(),
                   "baseline_since": period.baseline_since.isoformat()},
        "calls": now.num_rows,
        "scored": _count_valid(now["score_total"]),
        "score_mean": _mean(now["score_total"]),
        "baseline_score_mean": _mean(before["score_total"]),
        "errors": _errors(wh),
        "days": _per_day(now, period, criteria),
        "criteria": _per_criterion(now, criteria, labels),
        "agents": _per_agent(now, before, criteria),
        "queues": _per_queue(now, criteria),
        "distributions": _distributions(now, metrics, config),
        "recordings_dir": _recordings_dir(wh),
        "worst": _worst(now, criteria, scorecards_dir=scorecards_dir),
    }


def _columns(wh: Warehouse) -> list[str]:
    snapshot = wh.snapshot_dir()
    files = [] if snapshot is None else sorted((snapshot / "calls").rglob("*.parquet"))
    if not files:   # an empty warehouse: the columns this version writes
        return list(table_schema("calls").names)
    return list(pa.unify_schemas([pq.read_schema(f) for f in files]).names)


def _scored(table: pa.Table) -> pa.Array:
    return pc.is_valid(table["score_total"])


def _verdict_flags(table: pa.Table, criterion: str) -> dict[str, pa.Array]:
    """pass/fail/abstain as 0/1 over the scored calls (0 for calls not scored)."""
    scored = _scored(table)
    column = table[VERDICT_PREFIX + criterion]
    return {v: pc.cast(pc.and_(scored, pc.fill_null(pc.equal(column, v), False)), pa.int64())
            for v in ("pass", "fail", "abstain")}


def _per_day(table: pa.Table, period: Period, criteria: list[str]) -> list[dict]:
    t = table.select(["call_date", "score_total"]).append_column("scored", pc.cast(_scored(table), pa.int64()))
    fatal = table["score_fatal_failures"] if "score_fatal_failures" in table.column_names else pa.nulls(table.num_rows, pa.string())
    t = t.append_column("fatal", pc.cast(pc.greater(pc.utf8_length(pc.fill_null(fatal, "")), 0), pa.int64()))   # ids, comma-separated
    t = t.append_column("any_fail", pc.cast(_any_fail(table, criteria), pa.int64()))
    aggs = [([], "count_all"), ("scored", "sum"), ("score_total", "mean"), ("fatal", "sum"), ("any_fail", "sum")]
    t, aggs = _with_fail_counts(t, table, criteria, aggs)
    grouped = {row["call_date"]: row for row in t.group_by("call_date").aggregate(aggs).to_pylist()}
    out = []
    day = period.since
    while day <= period.until:
        row = grouped.get(day)
        out.append({
            "date": day.isoformat(),
            "calls": row["count_all"] if row else 0,
            "scored": row["scored_sum"] if row else 0,
            "not_scored": (row["count_all"] - row["scored_sum"]) if row else 0,
            "with_fail": row["any_fail_sum"] if row else 0,
            "fatal": row["fatal_sum"] if row else 0,
            "score_mean": _round(row["score_total_mean"]) if row else None,
            "fail_share": {c: _share(row[f"f_{c}_sum"], row[f"d_{c}_sum"]) if row else None for c in criteria},
        })
        day += timedelta(days=1)
    return out


def _with_fail_counts(t: pa.Table, table: pa.Table, criteria: list[str], aggs: list) -> tuple[pa.Table, list]:
    """`t` with f_<criterion> (failed) and d_<criterion> (decided) as 0/1 per scored call, and
    their sums added to the aggregations."""
    for c in criteria:
        flags = _verdict_flags(table, c)
        t = t.append_column(f"f_{c}", flags["fail"]).append_column(f"d_{c}", pc.add(flags["fail"], flags["pass"]))
        aggs = [*aggs, (f"f_{c}", "sum"), (f"d_{c}", "sum")]
    return t, aggs


def _any_fail(table: pa.Table, criteria: list[str]) -> pa.Array:
    any_fail = pa.array(np.zeros(table.num_rows, dtype=bool))
    for c in criteria:
        any_fail = pc.or_(any_fail, pc.fill_null(pc.equal(table[VERDICT_PREFIX + c], "fail"), False))
    return pc.and_(any_fail, _scored(table))


def _per_criterion(table: pa.Table, criteria: list[str], labels: dict[str, str]) -> list[dict]:
    scored = _count_valid(table["score_total"])
    out = []
    for c in criteria:
        counts = {v: int(pc.sum(flag).as_py() or 0) for v, flag in _verdict_flags(table, c).items()}
        decided = counts["pass"] + counts["fail"]
        out.append({"id": c, "label": labels.get(c, ""), **counts, "scored": scored,
                    "fail_share": _share(counts["fail"], decided), "abstain_share": _share(counts["abstain"], scored)})
    return sorted(out, key=lambda r: (-(r["fail_share"] or 0), r["id"]))


def _per_agent(now: pa.Table, before: pa.Table, criteria: list[str]) -> list[dict]:
    team_mean = _mean(now["score_total"])
    earlier = {r["agent_id"]: r for r in _group_rows(before, "agent_id", [])}
    out = []
    for row in _group_rows(now, "agent_id", criteria):
        own = earlier.get(row["agent_id"], {})
        out.append({
            "agent_id": row["agent_id"],
            "calls": row["count_all"],
            "scored": row["scored_sum"],
            "score_mean": _round(row["score_total_mean"]),
            "baseline_calls": own.get("count_all", 0),
            "baseline_score_mean": _round(own.get("score_total_mean")),
            "vs_own": _diff(row["score_total_mean"], own.get("score_total_mean")),
            "vs_team": _diff(row["score_total_mean"], team_mean),
            "failed_most": _failed_most(row, criteria),
        })
    return sorted(out, key=lambda r: (r["score_mean"] is None, r["score_mean"] or 0, str(r["agent_id"])))


def _per_queue(now: pa.Table, criteria: list[str]) -> list[dict]:
    """Per queue: calls, scored, those that failed a criterion, the mean score, the criteria failed
    most, and the [batch.overrides] entries the batch applied (a queue judged under its own
    thresholds is not comparable with the others as is)."""
    overrides: dict[str, list[str]] = {}
    if "config_override" in now.column_names:
        pairs = pa.table({"queue": _key(now, "queue"), "override": now["config_override"]})
        for r in pairs.group_by(["queue", "override"]).aggregate([]).to_pylist():
            if r["override"] is not None:
                overrides.setdefault(r["queue"], []).append(r["override"])
    out = [{
        "queue": row["queue"],
        "calls": row["count_all"],
        "scored": row["scored_sum"],
        "with_fail": row["any_fail_sum"],
        "score_mean": _round(row["score_total_mean"]),
        "failed_most": _failed_most(row, criteria),
        "overrides": sorted(overrides.get(row["queue"], ())),
    } for row in _group_rows(now, "queue", criteria, count_any_fail=True)]
    return sorted(out, key=lambda r: (-r["calls"], r["queue"]))


def _failed_most(row: dict, criteria: list[str]) -> list[dict]:
    """A group's criteria by fail share (fail / decided), highest first, those that never failed left out."""
    failed = sorted(((row[f"f_{c}_sum"] / row[f"d_{c}_sum"], c) for c in criteria if row[f"d_{c}_sum"]), reverse=True)
    return [{"id": c, "fail_share": round(s, 4)} for s, c in failed[:TOP_FAILED] if s > 0]


def _key(table: pa.Table, column: str) -> pa.Array:
    values = table[column] if column in table.column_names else pa.nulls(table.num_rows, pa.string())
    return pc.fill_null(pc.cast(values, pa.string()), NO_KEY)


def _group_rows(table: pa.Table, column: str, criteria: list[str], *, count_any_fail: bool = False) -> list[dict]:
    """One row per value of `column` (null: NO_KEY): count_all, scored_sum, score_total_mean, the
    f_/d_ sums of each criterion, and any_fail_sum (calls failing a criterion) when asked."""
    t = pa.table({column: _key(table, column), "score_total": table["score_total"],
                  "scored": pc.cast(_scored(table), pa.int64())})
    aggs = [([], "count_all"), ("scored", "sum"), ("score_total", "mean")]
    if count_any_fail:
        t = t.append_column("any_fail", pc.cast(_any_fail(table, criteria), pa.int64()))
        aggs.append(("any_fail", "sum"))
    t, aggs = _with_fail_counts(t, table, criteria, aggs)
    return t.group_by(column).aggregate(aggs).to_pylist()


def _distributions(table: pa.Table, metrics: list[str], config: Config) -> list[dict]:
    thresholds = {c.metric: (c.threshold, c.direction, c.id) for c in config.score.criteria}
    out = []
    for metric, label in DISTRIBUTIONS:
        if metric not in metrics:
            continue
        values = table[metric].drop_null().to_numpy(zero_copy_only=False).astype(np.float64)
        values = values[np.isfinite(values)]
        threshold = thresholds.get(metric)
        entry = {"metric": metric, "label": label, "n": int(values.size), "edges": [], "counts": [],
                 "threshold": threshold[0] if threshold else None, "direction": threshold[1] if threshold else None,
                 "criterion": threshold[2] if threshold else None}
        if values.size:
            lo, hi = np.percentile(values, [0.5, 99.5])
            if threshold:
                lo, hi = min(lo, threshold[0]), max(hi, threshold[0])
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            counts, edges = np.histogram(np.clip(values, lo, hi), bins=BINS, range=(lo, hi))
            entry.update(edges=[round(float(e), 4) for e in edges], counts=[int(c) for c in counts],
                         median=round(float(np.median(values)), 4))
        out.append(entry)
    return out


def _worst(table: pa.Table, criteria: list[str], *, scorecards_dir: Path | None) -> list[dict]:
    scored = table.filter(_scored(table))
    if not scored.num_rows:
        return []
    order = pc.sort_indices(scored, sort_keys=[("score_total", "ascending"), ("call_id", "ascending")])
    rows = scored.take(order[:WORST]).to_pylist()
    out = []
    for r in rows:
        page = None if scorecards_dir is None else scorecards_dir / f"{r['call_id']}.html"
        out.append({
            "call_id": r["call_id"], "call_date": r["call_date"].isoformat(), "agent_id": r.get("agent_id"),
            "queue": r.get("queue"), "config_override": r.get("config_override"),
            "source_path": r.get("source_path"), "source_caller_path": r.get("source_caller_path"),
            "score_total": _round(r["score_total"]), "duration_s": _round(r.get("duration_s")),
            "failed": [c for c in criteria if r.get(VERDICT_PREFIX + c) == "fail"],
            "scorecard": page.name if page is not None and page.is_file() else None,
        })
    return out


def _errors(wh: Warehouse) -> dict:
    """The files failing now (errors/ holds the current failures, not a history)."""
    errors = wh.read("errors", columns=["error_type", "last_failure_utc"])
    types: dict[str, int] = {}
    for t in errors["error_type"].to_pylist():
        types[t] = types.get(t, 0) + 1
    return {"files": errors.num_rows, "by_type": dict(sorted(types.items(), key=lambda kv: -kv[1]))}


def _recordings_dir(wh: Warehouse) -> str | None:
    runs = wh.read("runs", columns=["command", "recordings_dir", "started_utc"])
    batch = [r for r in runs.to_pylist() if r["command"] == "batch" and r["recordings_dir"]]
    return max(batch, key=lambda r: r["started_utc"])["recordings_dir"] if batch else None


def _count_valid(column) -> int:
    return int(pc.count(column, mode="only_valid").as_py() or 0)


def _mean(column) -> float | None:
    return _round(pc.mean(column).as_py()) if len(column) else None


def _share(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _diff(a, b) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def _round(value, digits: int = 2):
    return None if value is None else round(float(value), digits)


def write_worst_scorecards(worst: list[dict], out_dir: Path, *, recordings_dir: str | None,
                           config: Config) -> list[tuple[str, str]]:
    """Score each worst call again from its recording (audio needed; [measure.asr] as configured)
    and write its page as `<call_id>.html` in `out_dir`, marking it in `worst`. The recordings are
    found as the batch found them: `config`'s [batch.sources] on `recordings_dir` gives each call's
    path as stored (customer ids hashed or dropped alike), and the call id must still match. Each
    call is scored under its queue's configuration, as the batch scored it ([batch.overrides]
    applied by speechqa.config.config_for_queue), and must name the override the batch stored for
    it. Returns (stored path, why) for each call not written."""
    from speechqa.call import score_recording
    from speechqa.config import config_for_queue
    from speechqa.html_report import write_call_files
    from speechqa.sources import call_content_id, discover, read_call

    missing = [w for w in worst if not w["scorecard"]]
    if not missing:
        return []
    if not recordings_dir:
        return [(w["source_path"], "no batch run of this warehouse names its recordings folder") for w in missing]
    try:
        sources = {s.shown_relpath: s for s in discover(Path(recordings_dir), options=config.batch.sources)[0]}
    except SpeechQAError as exc:
        return [(w["source_path"], f"{exc.error_type}: {exc}") for w in missing]
    skipped = []
    for w in missing:
        source = sources.get(w["source_path"])
        if source is None:
            skipped.append((w["source_path"], f"not under {recordings_dir} as the batch stored it (moved or removed, "
                                              "or [batch.sources] is not the batch's: pass its --config)"))
            continue
        call_id = call_content_id(source)
        if call_id != w["call_id"]:
            skipped.append((w["source_path"], f"the recording changed since the batch scored it (now call {call_id})"))
            continue
        name = f"{call_id}.html"
        try:
            # the queue as the batch read it (file name or sidecar), so the same override applies
            call_config, override = config_for_queue(config, source.metadata.get("queue"))
            if override != w["config_override"]:   # a page judged otherwise than the night report's row would mislead
                skipped.append((w["source_path"], f"the batch judged it under {_override_name(w['config_override'])}, this "
                                                  f"configuration gives {_override_name(override)}: pass the batch's --config"))
                continue
            with read_call(source, max_duration_s=call_config.measure.max_duration_s) as recording:
                # the page names the path as stored, not the file's: a customer id in the name stays hashed
                result = dataclasses.replace(score_recording(recording, call_id=call_id, config=call_config),
                                             path=w["source_path"])
            write_call_files(result, html=str(out_dir / name), score=call_config.score,
                             max_duration_s=call_config.measure.max_duration_s)
        except SpeechQAError as exc:
            skipped.append((w["source_path"], f"{exc.error_type}: {exc}"))
            continue
        except OSError as exc:
            skipped.append((w["source_path"], f"cannot write {out_dir / name}: {exc.strerror or exc}"))
            continue
        w["scorecard"] = name
    return skipped


def _override_name(name: str | None) -> str:
    return f"[batch.overrides.{name}]" if name else "no [batch.overrides] entry"
