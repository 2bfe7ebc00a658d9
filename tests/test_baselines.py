"""Per-agent baselines: the statistics on known answers, the warehouse's baselines table against
a computation by hand and DuckDB's, commits in any order (interrupted, resumed, calls added
later) giving what one commit gives, rescore agreeing with the batch, and a criterion judged
against the agent's own baseline."""

from __future__ import annotations

import dataclasses
import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pytest

from batch_helpers import batch_config, every_call_committed, write_call
from speechqa.baseline import Baseline, History, baseline_of, robust_z
from speechqa.batch import Progress, run_batch
from speechqa.config import parse_config
from speechqa.derive import Derived
from speechqa.errors import SpeechQAError
from speechqa.judge import NO_BASELINES, judge
from speechqa.metrics import METRIC_NAMES
from speechqa.options import Criterion
from speechqa.rescore import rescore_warehouse
from speechqa.tables import KNOWN_METADATA
from speechqa.warehouse import Warehouse
from speechqa.worker import Outcome

METRICS = ("agent_f0_sd_st", "silence_max_s", "agent_interruptions")
BASELINE_CONFIG = f"""
[score.baseline]
metrics = {list(METRICS)!r}
"""


def one_thread(threads: int):
    return ThreadPoolExecutor(max_workers=1)


# ---- the statistics ---------------------------------------------------------------------------

def test_median_and_robust_spread_on_known_values():
    b = baseline_of([1.0, 2.0, 3.0, 4.0, 100.0], min_calls=5)   # the wild 100 moves neither
    assert (b.median, b.calls, b.note) == (3.0, 5, "")
    assert b.spread == pytest.approx(1.4826 * 1.0)              # MAD: median of 2, 1, 0, 1, 97
    assert robust_z(6.0, b) == pytest.approx(3.0 / 1.4826)
    assert robust_z(None, b) is None


def test_a_count_mostly_zero_has_the_mean_deviation_as_spread():
    b = baseline_of([0, 0, 0, 0, 1], min_calls=5)   # MAD 0: 1.2533 x mean |x - 0| = 1.2533 x 0.2
    assert b.median == 0.0 and b.spread == pytest.approx(1.2533 * 0.2)
    assert robust_z(2, b) == pytest.approx(2 / (1.2533 * 0.2))


def test_no_baseline_without_enough_calls_or_spread():
    few = baseline_of([2.0, 3.0], min_calls=5)
    assert few.median is None and few.spread is None and few.calls == 2
    assert few.note == "2 earlier calls of the agent measured it, under [score.baseline] min_calls = 5"
    same = baseline_of([1.0] * 6, min_calls=5)
    assert same.median == 1.0 and same.spread is None and "all 1: no spread" in same.note
    assert robust_z(1.0, same) is None


def test_history_takes_the_last_window_of_measured_calls():
    options = parse_config("[score.baseline]\nwindow_calls = 3\nmin_calls = 2\n", source="test").score.baseline
    history = History(keep=3)
    for value in [10.0, None, 1.0, 2.0, None, 4.0]:   # calls that did not measure it are passed over
        history.add("ag1", {"agent_f0_sd_st": value})
    b = history.baselines("ag1", options=options)["agent_f0_sd_st"]
    assert (b.median, b.calls) == (2.0, 3)   # 1, 2, 4: the 10 left the window
    assert history.baselines("ag2", options=options)["agent_f0_sd_st"].calls == 0


# ---- a criterion against the agent's own baseline -----------------------------------------------

def derived_with(**metrics) -> Derived:
    values = {name: None for name in METRIC_NAMES}
    values.update(metrics)
    return Derived(metrics=values, unmeasured={}, evidence={}, notes={}, events=())


DRIFT = Criterion(id="f0_drift", metric="agent_f0_sd_st", direction="min", threshold=-2.0, min_support=10.0,
                  baseline="agent")
USUAL = {"agent_f0_sd_st": Baseline(median=3.0, spread=0.5, calls=20)}


@pytest.mark.parametrize(("value", "support", "baselines", "verdict", "z", "note"), [
    (2.5, 30.0, USUAL, "pass", -1.0, "agent_f0_sd_st 2.5 against the agent's median 3 (robust SD 0.5, 20 earlier calls): z = -1.00"),
    (1.5, 30.0, USUAL, "fail", -3.0, "z = -3.00"),
    (2.0, 30.0, USUAL, "pass", -2.0, "z = -2.00"),                       # on the threshold: min passes
    (1.5, 30.0, None, "abstain", None, NO_BASELINES),                   # scored alone: no baseline given
    (1.5, 30.0, {"agent_f0_sd_st": baseline_of([3.0] * 4, min_calls=5)}, "abstain", None,
     "no agent baseline: 4 earlier calls of the agent measured it, under [score.baseline] min_calls = 5"),
    (1.5, 30.0, {"agent_f0_sd_st": baseline_of([3.0] * 6, min_calls=5)}, "abstain", None, "no spread"),
    (1.5, 5.0, USUAL, "abstain", -3.0, "too little support: 5 < 10"),   # the call's own support still counts
    (None, 30.0, USUAL, "abstain", None, "not measured"),
])
def test_a_criterion_against_the_agents_baseline(value, support, baselines, verdict, z, note):
    [v] = judge(derived_with(agent_f0_sd_st=value, agent_voiced_s=support, snr_db=40.0), (DRIFT,), baselines=baselines)
    assert v.verdict == verdict and v.baseline == "agent" and v.threshold == -2.0
    assert (v.value is None and z is None) or v.value == pytest.approx(z)
    assert note in v.note


def test_the_same_metric_with_a_fixed_threshold_ignores_the_baseline():
    fixed = dataclasses.replace(DRIFT, id="fixed", baseline=None, threshold=2.0)
    [v] = judge(derived_with(agent_f0_sd_st=1.5, agent_voiced_s=30.0, snr_db=40.0), (fixed,), baselines=USUAL)
    assert (v.verdict, v.value, v.baseline) == ("fail", 1.5, None)


def test_a_baseline_criterion_is_checked_when_the_configuration_loads():
    criterion = '[[score.criteria]]\nid = "x"\nmetric = "rate_ratio"\nthreshold = 2.0\nbaseline = "agent"\n'
    with pytest.raises(SpeechQAError, match='"ratio_max" has no meaning for a z-score'):
        parse_config(criterion + 'direction = "ratio_max"\n', source="test")
    with pytest.raises(SpeechQAError, match="use \"agent\""):
        parse_config(criterion.replace('"agent"', '"team"') + 'direction = "max"\n', source="test")
    with pytest.raises(SpeechQAError, match="leaves out"):
        parse_config('[score.baseline]\nmetrics = ["duration_s"]\n' + criterion + 'direction = "max"\n', source="test")
    with pytest.raises(SpeechQAError, match="2 <= min_calls <= window_calls"):
        parse_config("[score.baseline]\nwindow_calls = 4\n", source="test")


# ---- the warehouse's table on known histories (measurements stubbed: no audio is read) ----------

def histories(seed: int = 7) -> dict[str, dict]:
    """relpath -> the metric values its stub measurement gives: ag1 26 calls (the window of 20
    slides), ag2 9, and a call whose name carries no agent. Some calls do not measure the F0
    figure; silence_max_s is mostly 0 (a spread from the mean deviation), interruptions always 1
    (no spread)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 20, 9, 0)
    out = {}
    for agent, n, step_h in (("ag1", 26, 7), ("ag2", 9, 17)):
        for i in range(n):
            at = start + timedelta(hours=step_h * i, minutes=int(rng.integers(0, 50)))
            f0 = None if i % 7 == 3 else round(float(rng.normal(3.0 if agent == "ag1" else 2.0, 0.6)), 3)
            silence = float(rng.choice([0.0, 0.0, 0.0, 4.5, 12.0]))
            out[f"sales/{at:%Y%m%d-%H%M%S}_{agent}_5550{i:03d}.wav"] = {
                "agent_f0_sd_st": f0, "silence_max_s": silence, "agent_interruptions": 1}
    out["sales/unnamed.wav"] = {"agent_f0_sd_st": 2.0, "silence_max_s": 0.0, "agent_interruptions": 0}
    return out


def write_stub_files(root, values: dict[str, dict], only=None) -> None:
    for relpath in values:
        if only is None or relpath in only:
            (root / relpath).parent.mkdir(parents=True, exist_ok=True)
            (root / relpath).write_bytes(f"stub call {relpath}".encode())


def stub_process(values: dict[str, dict]):
    """Measures nothing: a calls row with the call's metadata and the given metric values."""
    def process(job):
        s = job.source
        row = {"call_id": job.call_id, "call_date": s.call_date, "source_path": s.shown_relpath,
               "source_size_bytes": s.size_bytes, "source_mtime_ns": s.mtime_ns, "call_start_utc": s.call_start_utc,
               **{k: s.metadata.get(k) for k in KNOWN_METADATA}, "measure_hash": job.config.measure_hash,
               "score_hash": job.config.score_hash, "run_id": job.run_id,
               **{m: None for m in METRIC_NAMES}, **values[s.relpath]}
        return Outcome(job.call_id, s.shown_relpath, records={"calls": [row]})
    return process


def by_hand(calls: list[dict], *, window: int = 20, min_calls: int = 5) -> dict[tuple[str, str], tuple]:
    """(call_id, metric) -> (median, spread, calls, z), from the definition in the README."""
    out = {}
    for agent in {c["agent_id"] for c in calls} - {None}:
        mine = sorted((c for c in calls if c["agent_id"] == agent), key=lambda c: (c["call_start_utc"], c["call_id"]))
        for i, call in enumerate(mine):
            for metric in METRICS:
                earlier = [c[metric] for c in mine[:i] if c[metric] is not None][-window:]
                median = spread = z = None
                if len(earlier) >= min_calls:
                    median = statistics.median(earlier)
                    spread = 1.4826 * statistics.median(abs(v - median) for v in earlier) or \
                        1.2533 * statistics.fmean(abs(v - median) for v in earlier) or None
                    if spread and call[metric] is not None:
                        z = (call[metric] - median) / spread
                out[(call["call_id"], metric)] = (median, spread, len(earlier), z)
    return out


def table(wh, name: str, drop=("run_id",)) -> list[dict]:
    rows = [{k: v for k, v in r.items() if k not in drop} for r in Warehouse(wh).read(name).to_pylist()]
    return sorted(rows, key=lambda r: (r["call_id"], r.get("metric") or r.get("criterion_id") or ""))


def close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12))


@pytest.fixture(scope="module")
def stub_warehouse(tmp_path_factory):
    base = tmp_path_factory.mktemp("baselines")
    values = histories()
    write_stub_files(base / "rec", values)
    config = batch_config(BASELINE_CONFIG)
    summary = run_batch(base / "rec", base / "wh", config=config, executor_factory=one_thread, process=stub_process(values))
    assert summary.scored == len(values)
    return base, values, config


def test_the_baselines_table_equals_the_definition_computed_by_hand(stub_warehouse):
    base, values, _ = stub_warehouse
    calls = Warehouse(base / "wh").read("calls").to_pylist()
    rows = table(base / "wh", "baselines")
    expected = by_hand(calls)
    assert len(rows) == len(expected) == (26 + 9) * len(METRICS)   # the call without an agent has none
    for r in rows:
        median, spread, n, z = expected[(r["call_id"], r["metric"])]
        assert r["baseline_calls"] == n and close(r["baseline_median"], median) and close(r["baseline_spread"], spread), r
        assert close(r["z"], z), r
        assert (r["note"] is None) == (z is not None), r
    slid = [r for r in rows if r["metric"] == "agent_f0_sd_st" and r["baseline_calls"] == 20]
    assert slid, "the window of 20 slid over ag1's history"
    assert any(r["metric"] == "silence_max_s" and r["z"] is not None and r["baseline_median"] == 0 for r in rows)
    assert all(r["z"] is None and "no spread" in r["note"] for r in rows if r["metric"] == "agent_interruptions"
               and r["baseline_calls"] >= 5)


def test_duckdb_recomputes_the_median_and_mad_from_calls_as_the_readme_prints(stub_warehouse):
    duckdb = pytest.importorskip("duckdb")
    from test_reading import readme_block

    base, _, _ = stub_warehouse
    db = duckdb.connect()
    db.execute(readme_block("sql", "CREATE VIEW baselines").replace("/srv/qa-warehouse", str(base / "wh")))
    got = {(r[0], r[1]): r[2:] for r in db.sql(
        "SELECT call_id, metric, baseline_median, baseline_spread, z FROM baselines").fetchall()}
    recomputed = db.sql("SELECT call_id, baseline_median, baseline_mad FROM f0_recomputed").fetchall()
    assert len(recomputed) == sum(1 for c in Warehouse(base / "wh").read("calls").to_pylist()
                                  if c["agent_id"] and c["agent_f0_sd_st"] is not None)
    checked = 0
    for call_id, median, mad in recomputed:
        stored_median, spread, _ = got[(call_id, "agent_f0_sd_st")]
        assert close(stored_median, median), call_id
        if mad:   # where the MAD is 0 the spread is the mean deviation's (not in the recipe)
            assert close(spread, 1.4826 * mad), call_id
            checked += 1
    assert checked > 10
    drifted = db.sql("SELECT call_id, metric, z FROM drift").fetchall()
    assert drifted and all(abs(z) >= 3 for _, _, z in drifted)
    assert {(c, m) for c, m, _ in drifted} == {k for k, (_, _, z) in got.items() if z is not None and abs(z) >= 3}


class StopAfter(Progress):
    def __init__(self, calls: int):
        self.left = calls

    def call_done(self, outcome):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt   # as Ctrl-C or SIGTERM reach the batch


def test_interrupted_resumed_and_backfilled_batches_give_the_baselines_of_one(stub_warehouse, tmp_path):
    """Later calls first, interrupted after a few (each committed alone), then resumed with the
    earlier calls added: every baseline is as one batch of all of them made it."""
    base, values, config = stub_warehouse
    later = sorted(values)[len(values) // 2:]   # by name: each agent's later calls (and the unnamed one)
    write_stub_files(tmp_path / "rec", values, only=later)
    stepwise = every_call_committed(config)
    with pytest.raises(KeyboardInterrupt):
        run_batch(tmp_path / "rec", tmp_path / "wh", config=stepwise, executor_factory=one_thread,
                  process=stub_process(values), progress=StopAfter(4))
    run_batch(tmp_path / "rec", tmp_path / "wh", config=stepwise, executor_factory=one_thread, process=stub_process(values))
    write_stub_files(tmp_path / "rec", values)
    run_batch(tmp_path / "rec", tmp_path / "wh", config=stepwise, executor_factory=one_thread, process=stub_process(values))
    assert table(tmp_path / "wh", "baselines") == table(base / "wh", "baselines")


# ---- real calls: a criterion against the agent's own baseline, the batch and rescore -------------

DURATION_CRITERION = """
[score]
min_decided_weight = 0.0
[score.baseline]
min_calls = 3
[[score.criteria]]
id = "usual_length"
label = "Call length usual for the agent"
metric = "duration_s"
direction = "abs_max"
threshold = 3.0
baseline = "agent"
"""
LENGTHS_S = (8.0, 9.0, 8.5, 9.5, 9.0, 20.0)   # ag1's calls in time order; the last is long for ag1
# By hand: calls 1-3 have 0, 1, 2 earlier calls (abstain); call 4: median 8.5 of 8, 9, 8.5, MAD 0.5,
# z = 1 / 0.7413 = 1.35 (pass); call 5: median 8.75, MAD 0.5, z = 0.34 (pass); call 6: median 9,
# MAD 0.5, z = 11 / 0.7413 = 14.8 (fail).
EXPECTED = [("abstain", None), ("abstain", None), ("abstain", None), ("pass", 1 / 0.7413), ("pass", 0.25 / 0.7413),
            ("fail", 11 / 0.7413)]


def duration_calls(root, only=None) -> list[str]:
    paths = []
    for i, length in enumerate(LENGTHS_S):
        relpath = f"sales/2026112{i}-100000_ag1_555000{i}.wav"
        paths.append(relpath)
        if only is None or i in only:
            write_call(root / relpath, seconds=8.0, offset_s=0.5 * i, tail_s=length - 8.0)   # each its own content
    write_call(root / "sales/20261122-120000_ag2_5550009.wav", seconds=8.0, tail_s=0.25)   # another agent's first
    return paths


def verdicts(wh) -> dict[str, tuple]:
    calls = {c["call_id"]: c["source_path"] for c in Warehouse(wh).read("calls").to_pylist()}
    return {calls[r["call_id"]]: (r["verdict"], r["value"], r["note"], r["baseline"])
            for r in Warehouse(wh).read("criteria").to_pylist() if r["criterion_id"] == "usual_length"}


@pytest.fixture(scope="module")
def real_warehouse(tmp_path_factory):
    base = tmp_path_factory.mktemp("baseline_calls")
    paths = duration_calls(base / "rec")
    config = batch_config(DURATION_CRITERION)
    run_batch(base / "rec", base / "wh", config=config, executor_factory=one_thread)
    return base, paths, config


def shown(relpath: str) -> str:
    from batch_helpers import shown as hashed

    return hashed(relpath)


def test_a_criterion_against_the_agents_own_baseline_in_the_warehouse(real_warehouse):
    base, paths, _ = real_warehouse
    got = verdicts(base / "wh")
    for relpath, (verdict, z) in zip(paths, EXPECTED):
        v, value, note, baseline = got[shown(relpath)]
        assert (v, baseline) == (verdict, "agent"), (relpath, got[shown(relpath)])
        assert (value is None and z is None) or value == pytest.approx(z, rel=1e-3), relpath
        if z is None:
            assert "earlier calls of the agent measured it, under [score.baseline] min_calls = 3" in note
    other = [v for p, v in got.items() if "_ag2_" in p]
    assert other and other[0][0] == "abstain" and "0 earlier calls" in other[0][2]   # ag1's calls are not ag2's
    calls = {c["source_path"]: c for c in Warehouse(base / "wh").read("calls").to_pylist()}
    assert calls[shown(paths[-1])]["verdict_usual_length"] == "fail"
    assert calls[shown(paths[3])]["verdict_usual_length"] == "pass"


def test_calls_added_before_stored_ones_rejudge_the_later_calls(real_warehouse, tmp_path):
    """The later calls first (each committed alone), the earlier ones a run after: the later
    calls' baselines, verdicts and totals become what one batch gives."""
    base, _, config = real_warehouse
    duration_calls(tmp_path / "rec", only={3, 4, 5})
    stepwise = every_call_committed(config)
    run_batch(tmp_path / "rec", tmp_path / "wh", config=stepwise, executor_factory=one_thread)
    assert {v[0] for v in verdicts(tmp_path / "wh").values()} == {"abstain"}   # 0, 1, 2 earlier calls yet
    duration_calls(tmp_path / "rec")
    run_batch(tmp_path / "rec", tmp_path / "wh", config=stepwise, executor_factory=one_thread)
    assert verdicts(tmp_path / "wh") == verdicts(base / "wh")
    drop = ("run_id", "processed_utc", "scored_utc", "source_mtime_ns")
    assert table(tmp_path / "wh", "baselines") == table(base / "wh", "baselines")
    assert table(tmp_path / "wh", "calls", drop) == table(base / "wh", "calls", drop)


def test_rescore_keeps_the_baselines_and_judges_against_them(real_warehouse, tmp_path):
    import shutil

    base, paths, config = real_warehouse
    shutil.copytree(base / "wh", tmp_path / "wh", symlinks=True)
    before = {t: table(base / "wh", t) for t in ("baselines", "criteria")}
    rescore_warehouse(tmp_path / "wh", config=config)
    assert len(table(tmp_path / "wh", "baselines")) == len(before["baselines"])
    for new, old in zip(table(tmp_path / "wh", "baselines"), before["baselines"]):
        assert new.keys() == old.keys() and all(close(new[k], old[k]) if isinstance(old[k], float) else new[k] == old[k]
                                                for k in old), (new, old)
    assert verdicts(tmp_path / "wh") == verdicts(base / "wh")
    stricter = batch_config(DURATION_CRITERION.replace("threshold = 3.0", "threshold = 1.0"))
    rescore_warehouse(tmp_path / "wh", config=stricter)
    got = verdicts(tmp_path / "wh")
    assert [got[shown(p)][0] for p in paths] == ["abstain"] * 3 + ["fail", "pass", "fail"]   # z 1.35 > 1 now
    assert {r["score_hash"] for r in Warehouse(tmp_path / "wh").read("baselines").to_pylist()} == {stricter.score_hash}
