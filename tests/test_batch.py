"""The nightly batch end to end: a folder of calls in, the warehouse's tables out, and again."""

from __future__ import annotations

import dataclasses
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch_helpers import BAD, FILE_TIME, TEST_CONFIG, crash_on_mono, shown, make_folder, batch_config, write_call
from speechqa.batch import Progress, run_batch
from speechqa.names import DERIVED_KINDS, MEASURED_KINDS
from speechqa.rescore import purge_warehouse, rescore_warehouse
from speechqa.sources import hash_customer_id
from speechqa.warehouse import Warehouse

pytestmark = pytest.mark.slow

GOOD = 4


def in_process(threads: int):
    return ThreadPoolExecutor(max_workers=1)


def run(recordings, out, config=None, **kwargs):
    return run_batch(recordings, out, config=config or batch_config(), executor_factory=kwargs.pop("executor_factory", in_process), **kwargs)


def rows(out: Path, table: str) -> list[dict]:
    return Warehouse(out).read(table).to_pylist()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One folder scored once; the tests below read its warehouse (copy it to change it)."""
    base = tmp_path_factory.mktemp("batch")
    kinds = make_folder(base / "rec")
    summary = run(base / "rec", base / "wh")
    return base, kinds, summary


def copy_of(first_run, tmp_path) -> tuple[Path, Path]:
    base, _, _ = first_run
    shutil.copytree(base / "rec", tmp_path / "rec")
    shutil.copytree(base / "wh", tmp_path / "wh", symlinks=True)
    return tmp_path / "rec", tmp_path / "wh"


def test_every_call_lands_once_with_its_metadata(first_run):
    base, kinds, summary = first_run
    # found: every call and every file that could not become one (the lone leg): the counts add up
    assert (summary.found, summary.scored, summary.failed, summary.skipped) == (GOOD + BAD, GOOD, BAD, 0)
    assert summary.exit_code == 1
    calls = {r["source_path"]: r for r in rows(base / "wh", "calls")}
    assert len(calls) == GOOD
    sales = calls[f"sales/20261122-091500_ag1_{hash_customer_id('5550001', salt='pepper')}.wav"]
    assert sales["queue"] == "sales" and sales["agent_id"] == "ag1"
    assert sales["customer_id"] == hash_customer_id("5550001", salt="pepper")
    assert sales["call_start_utc"] == datetime(2026, 11, 22, 6, 15, tzinfo=timezone.utc)   # 09:15 in Moscow
    night = next(c for p, c in calls.items() if p.startswith("sales/20261123"))
    assert night["call_date"] == date(2026, 11, 23) and night["call_start_utc"].day == 22
    mono = calls["other/mono.wav"]
    assert (mono["queue"], mono["meta_branch"], mono["call_time_source"]) == ("vip", "north", "sidecar")
    assert mono["agent_channel"] is None and mono["roles_method"] == "diarized" and mono["mono"] and mono["diarized"]
    assert mono["quality_speakers"] == 2 and mono["agent_talk_s"] > 0
    legs = calls["support/legs/call77_agent.wav"]
    assert legs["source_caller_path"] == "support/legs/call77_caller.wav" and legs["agent_channel"] == "left"
    assert (legs["call_time_source"], legs["call_start_utc"]) == ("mtime", FILE_TIME)
    for call in calls.values():
        assert call["measure_hash"] and call["score_hash"] and call["run_id"] == summary.run_id
        assert call["agent_talk_s"] is None or call["agent_talk_s"] > 0
        assert call["verdict_no_dead_air"] in ("pass", "fail", "abstain")


def test_two_legs_measure_like_the_stereo_file_they_came_from(first_run, tmp_path):
    base, _, _ = first_run
    write_call(tmp_path / "rec/sales/20261122-091500_ag1_5550009.wav", seconds=30)
    run(tmp_path / "rec", tmp_path / "wh")
    stereo = rows(tmp_path / "wh", "calls")[0]
    legs = next(r for r in rows(base / "wh", "calls") if r["source_path"].endswith("call77_agent.wav"))
    for name in ("agent_talk_s", "caller_talk_s", "agent_level_dbfs", "caller_level_dbfs", "turns_total", "silence_max_s"):
        assert legs[name] == pytest.approx(stereo[name], abs=1e-6), name


def test_failures_are_error_rows_with_reasons(first_run):
    base, kinds, summary = first_run
    errors = {r["source_path"]: r for r in rows(base / "wh", "errors")}
    expected = {p: k for p, k in kinds.items() if k not in ("stereo", "two legs", "mono")}
    assert {p: e["error_type"] for p, e in errors.items()} == expected
    for e in errors.values():
        assert e["failures"] == 1 and e["run_id"] == summary.run_id and str(base) not in e["message"]
    assert "lonely_out.wav" in errors["support/legs/lonely_in.wav"]["message"]


def test_child_tables_hold_each_call_once(first_run):
    base, _, _ = first_run
    calls = {r["call_id"]: r for r in rows(base / "wh", "calls")}
    criteria = rows(base / "wh", "criteria")
    n_criteria = len(batch_config().score.criteria)
    assert len(criteria) == GOOD * n_criteria
    assert {(r["call_id"], r["criterion_id"]) for r in criteria}.__len__() == len(criteria)
    for r in criteria:
        assert r["call_date"] == calls[r["call_id"]]["call_date"]
        assert r["verdict"] == calls[r["call_id"]][f"verdict_{r['criterion_id']}"]
    turns = rows(base / "wh", "turns")
    stereo = next(c for c in calls.values() if c["source_path"].startswith("sales/20261122"))
    mine = [t for t in turns if t["call_id"] == stereo["call_id"]]
    talk = sum(t["duration_s"] for t in mine if t["kind"] == "speech" and t["party"] == "agent")
    assert talk == pytest.approx(stereo["agent_talk_s"], abs=1e-6)
    assert sum(t["kind"] == "turn" for t in mine) == stereo["turns_total"]
    assert sum(t["kind"] == "silence" for t in mine) == stereo["silence_count"]
    with_level = [t for t in mine if t["kind"] == "turn" and t["level_dbfs"] is not None]
    assert with_level, "turns carry their measured level"
    runs = rows(base / "wh", "runs")
    assert [(r["status"], r["calls_scored"], r["calls_failed"]) for r in runs] == [("failed", GOOD, BAD)]


def test_duckdb_reads_every_table_with_its_partitions(first_run):
    duckdb = pytest.importorskip("duckdb")
    base, _, _ = first_run
    current = base / "wh" / "current"
    for table in ("calls", "criteria", "turns"):
        expected = len(rows(base / "wh", table))
        found = duckdb.sql(
            f"SELECT count(*), count(DISTINCT call_date) FROM read_parquet('{current}/{table}/*/*.parquet', "
            "hive_partitioning = true, union_by_name = true)"
        ).fetchall()[0]
        assert found == (expected, 3), table
    per_day = duckdb.sql(
        f"SELECT call_date, count(*) FROM read_parquet('{current}/calls/*/*.parquet', hive_partitioning = true) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_day == [(date(2026, 11, 21), 1), (date(2026, 11, 22), 2), (date(2026, 11, 23), 1)]
    for table in ("errors", "runs"):
        assert duckdb.sql(f"SELECT count(*) FROM '{current}/{table}/{table}.parquet'").fetchall()[0][0] == len(rows(base / "wh", table))


def test_a_second_run_skips_what_is_stored_and_retries_failures(first_run, tmp_path):
    rec, wh = copy_of(first_run, tmp_path)
    before = {r["source_path"]: r for r in rows(wh, "errors")}
    summary = run(rec, wh)
    assert (summary.scored, summary.skipped, summary.failed) == (0, GOOD, BAD)
    errors = {r["source_path"]: r for r in rows(wh, "errors")}
    for path, e in errors.items():
        assert e["failures"] == 2 and e["first_failure_utc"] == before[path]["first_failure_utc"]
        assert e["last_failure_utc"] > before[path]["last_failure_utc"]
    # A bad file mended leaves errors/ and becomes a call; a vanished one leaves errors/ too.
    write_call(rec / "x_bad/notes.wav", seconds=20, offset_s=5)
    (rec / "x_bad/empty.wav").unlink()
    summary = run(rec, wh)
    assert (summary.scored, summary.failed) == (1, BAD - 2)
    assert "x_bad/notes.wav" not in {r["source_path"] for r in rows(wh, "errors")}
    assert "x_bad/empty.wav" not in {r["source_path"] for r in rows(wh, "errors")}
    assert len(rows(wh, "errors")) == BAD - 2
    assert len(rows(wh, "calls")) == GOOD + 1


def test_changed_content_replaces_the_old_rows(first_run, tmp_path):
    rec, wh = copy_of(first_run, tmp_path)
    path = shown("sales/20261122-091500_ag1_5550001.wav")
    old_id = next(r["call_id"] for r in rows(wh, "calls") if r["source_path"] == path)
    write_call(rec / "sales/20261122-091500_ag1_5550001.wav", seconds=25, offset_s=3)
    summary = run(rec, wh)
    assert (summary.scored, summary.replaced) == (1, 1)
    calls = rows(wh, "calls")
    assert len(calls) == GOOD and sum(r["source_path"] == path for r in calls) == 1
    new = next(r for r in calls if r["source_path"] == path)
    assert new["call_id"] != old_id and new["duration_s"] == pytest.approx(25.0, abs=0.01)
    for table in ("criteria", "turns"):
        assert not any(r["call_id"] == old_id for r in rows(wh, table)), table


def test_a_moved_file_keeps_its_id_is_not_scored_again_and_its_path_follows(first_run, tmp_path):
    rec, wh = copy_of(first_run, tmp_path)
    (rec / "archive").mkdir()
    shutil.move(rec / "other/mono.wav", rec / "archive/mono.wav")
    summary = run(rec, wh)
    assert summary.scored == 0 and len(rows(wh, "calls")) == GOOD
    calls = {r["source_path"]: r for r in rows(wh, "calls")}
    assert "archive/mono.wav" in calls and "other/mono.wav" not in calls
    assert len(rows(wh, "criteria")) == GOOD * len(batch_config().score.criteria)
    assert run(rec, wh).skipped == GOOD   # and the next run knows it by its new path


def test_a_measure_change_processes_again_a_score_change_does_not(first_run, tmp_path):
    rec, wh = copy_of(first_run, tmp_path)
    ids = sorted(r["call_id"] for r in rows(wh, "calls"))
    summary = run(rec, wh, config=batch_config("[score.timing]\ndead_air_s = 5.0\n"))
    assert summary.scored == 0 and summary.skipped == GOOD
    summary = run(rec, wh, config=batch_config("[measure]\nbridge_gap_s = 0.3\n"))
    assert summary.scored == GOOD and summary.replaced == GOOD
    calls = rows(wh, "calls")
    assert sorted(r["call_id"] for r in calls) == ids
    assert len({r["measure_hash"] for r in calls}) == 1
    assert len(rows(wh, "criteria")) == GOOD * len(batch_config().score.criteria)


def test_rescore_equals_processing_again_with_the_new_score(first_run, tmp_path):
    rec, wh = copy_of(first_run, tmp_path)
    new = batch_config("[score.timing]\ndead_air_s = 1.0\ninterruption_grace_s = 0.3\npause_min_s = 0.5\n")
    result = rescore_warehouse(wh, config=new)
    assert result.calls == GOOD and result.other_measure == 0
    fresh = tmp_path / "fresh"
    run(rec, fresh, config=new)
    got = {r["source_path"]: r for r in rows(wh, "calls")}
    want = {r["source_path"]: r for r in rows(fresh, "calls")}
    skip = {"run_id", "processed_utc", "scored_utc"}
    for path, row in want.items():
        for name, value in row.items():
            if name not in skip:
                assert got[path][name] == (pytest.approx(value, abs=1e-9) if isinstance(value, float) else value), (path, name)
    old = {r["source_path"]: r for r in rows(first_run[0] / "wh", "calls")}
    assert any(old[p]["agent_pauses_per_min"] != got[p]["agent_pauses_per_min"] for p in got), "the new pause length changed something"
    key = lambda r: (r["call_id"], r["criterion_id"])
    assert sorted((key(r), r["verdict"], r["value"]) for r in rows(wh, "criteria")) == sorted(
        (key(r), r["verdict"], r["value"]) for r in rows(fresh, "criteria"))
    kinds = lambda out: sorted((r["call_id"], r["kind"], r["party"], round(r["start_s"], 6), round(r["end_s"], 6)) for r in rows(out, "turns"))
    assert kinds(wh) == kinds(fresh)
    assert rows(wh, "runs")[-1]["command"] == "rescore"


def test_rescore_keeps_the_provenance_of_measured_rows_and_file_metadata(first_run, tmp_path):
    _, wh = copy_of(first_run, tmp_path)
    old, new = batch_config(), batch_config("[score.timing]\ndead_air_s = 1.0\n")
    rescore_warehouse(wh, config=new)
    turns = rows(wh, "turns")
    measured = [r for r in turns if r["kind"] in MEASURED_KINDS]
    derived = [r for r in turns if r["kind"] in DERIVED_KINDS]
    assert {r["kind"] for r in measured} >= {"speech", "turn", "level_pair"} and derived
    assert {(r["measure_hash"], r["score_hash"]) for r in measured} == {(old.measure_hash, None)}
    assert {(r["measure_hash"], r["score_hash"]) for r in derived} == {(None, new.score_hash)}
    snapshot = Warehouse(wh).snapshot_dir()
    for table in ("calls", "turns", "criteria"):
        for path in sorted((snapshot / table).rglob("*.parquet")):
            meta = {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items()}
            assert meta["speechqa_table"] == table and meta["score_hash"] == new.score_hash, path
            if table != "criteria":
                assert meta["measure_hash"] == old.measure_hash, path
            if table == "calls":
                assert meta["model_id"] == "none", path   # ASR is off in these tests


def test_purge_by_day_and_by_customer(first_run, tmp_path):
    _, wh = copy_of(first_run, tmp_path)
    assert purge_warehouse(wh, customer="5550001", config=batch_config()) == 1
    assert purge_warehouse(wh, before=date(2026, 11, 23), config=batch_config()) == 2
    calls = rows(wh, "calls")
    assert [r["source_path"] for r in calls] == [shown("sales/20261123-013000_ag2_5550002.wav")]
    for table in ("criteria", "turns"):
        assert {r["call_id"] for r in rows(wh, table)} == {calls[0]["call_id"]}, table
    assert [r["command"] for r in rows(wh, "runs")][-2:] == ["purge", "purge"]


def test_since_filters_on_call_time(first_run, tmp_path):
    rec, _ = copy_of(first_run, tmp_path)
    summary = run(rec, tmp_path / "fresh", since=datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc))
    assert summary.found == 1 and [r["source_path"] for r in rows(tmp_path / "fresh", "calls")] == [
        shown("sales/20261123-013000_ag2_5550002.wav")]


def test_a_crashing_worker_costs_one_call_not_the_run(first_run, tmp_path):
    rec, _ = copy_of(first_run, tmp_path)
    for p in (rec / "x_bad").iterdir():
        p.unlink()
    (rec / "support/legs/lonely_in.wav").unlink()
    summary = run_batch(rec, tmp_path / "wh2", config=batch_config(), workers=2, process=crash_on_mono)
    assert (summary.scored, summary.failed) == (GOOD - 1, 1)
    [error] = rows(tmp_path / "wh2", "errors")
    assert (error["source_path"], error["error_type"]) == ("other/mono.wav", "worker_crashed")


def test_local_workers_give_the_same_tables(first_run, tmp_path):
    base, _, _ = first_run
    run_batch(base / "rec", tmp_path / "wh", config=batch_config(), workers=2)
    assert_same_tables(base / "wh", tmp_path / "wh")


def assert_same_tables(a: Path, b: Path, *, ignore: set[str] = frozenset()) -> None:
    """Equal tables but for run ids and times (and `ignore`); floats within 1e-6."""
    volatile = {"run_id", "processed_utc", "scored_utc", "first_failure_utc", "last_failure_utc", *ignore}
    for table in ("calls", "criteria", "turns", "utterances", "words", "errors"):
        left, right = (sorted(rows(x, table), key=repr_key) for x in (a, b))
        assert len(left) == len(right), table
        for x, y in zip(left, right):
            for name in set(x) | set(y):
                if name in volatile:
                    continue
                vx, vy = x.get(name), y.get(name)
                if isinstance(vx, float):
                    assert vy == pytest.approx(vx, abs=1e-6), (table, name)
                else:
                    assert vx == vy, (table, name)


def repr_key(row: dict) -> str:
    return repr([row.get(k) for k in ("call_id", "source_path", "criterion_id", "kind", "party", "start_s", "utterance_index", "word_index")])



def test_a_queue_override_applies_to_that_queue_only(first_run, tmp_path):
    rec, _ = copy_of(first_run, tmp_path)
    config = batch_config("[batch.overrides.vip]\nqueue = \"vip\"\n[batch.overrides.vip.score.timing]\ndead_air_s = 0.3\n")
    run(rec, tmp_path / "wh2", config=config)
    calls = {r["source_path"]: r for r in rows(tmp_path / "wh2", "calls")}
    plain = {r["source_path"]: r for r in rows(first_run[0] / "wh", "calls")}
    mono = calls["other/mono.wav"]
    assert mono["config_override"] == "vip" and mono["score_hash"] != plain["other/mono.wav"]["score_hash"]
    assert mono["silence_count"] > plain["other/mono.wav"]["silence_count"]   # T = 0.3 s finds more
    assert mono["measure_hash"] == plain["other/mono.wav"]["measure_hash"]
    for path, call in calls.items():
        if path != "other/mono.wav":
            assert call["config_override"] is None and call["score_hash"] == plain[path]["score_hash"]
    result = rescore_warehouse(tmp_path / "wh2", config=config)   # rescore applies the override again
    assert result.changed_verdicts == 0
    assert {r["source_path"]: r["silence_count"] for r in rows(tmp_path / "wh2", "calls")} == {
        p: c["silence_count"] for p, c in calls.items()}


def test_a_hashed_customer_id_never_shows_in_paths_logs_or_errors(first_run, tmp_path, caplog):
    base, _, _ = first_run
    calls = rows(base / "wh", "calls")
    errors = rows(base / "wh", "errors")
    hashed = hash_customer_id("5550001", salt="pepper")
    text = repr(calls) + repr(errors) + repr(rows(base / "wh", "criteria"))
    assert "5550001" not in text and "5550002" not in text
    assert f"sales/20261122-091500_ag1_{hashed}.wav" in {c["source_path"] for c in calls}
    rec, _ = copy_of(first_run, tmp_path)
    (rec / "sales/20261122-091500_ag1_5550003.wav").write_text("not audio")
    with caplog.at_level("INFO", logger="speechqa"):
        summary = run(rec, tmp_path / "wh2")
    assert "5550003" not in caplog.text + repr(summary.failures) + repr(rows(tmp_path / "wh2", "errors"))
    assert summary.failed == BAD + 1


def test_commit_interval_zero_makes_the_whole_run_visible_at_once(first_run, tmp_path):
    import dataclasses

    base, _, _ = first_run
    config = batch_config()
    config = dataclasses.replace(config, batch=dataclasses.replace(config.batch, commit_interval_s=0.0))
    snapshots = []

    class Seen(Progress):
        def committed(self, snapshot):
            snapshots.append(snapshot.name)

    summary = run(base / "rec", tmp_path / "wh", config=config, progress=Seen())
    assert summary.scored == GOOD and len(snapshots) == 1


def test_rescore_of_a_large_warehouse_commits_in_parts_and_misses_no_call(first_run, tmp_path):
    _, wh = copy_of(first_run, tmp_path)
    new = batch_config("[score.timing]\ndead_air_s = 0.3\n")
    result = rescore_warehouse(wh, config=new, max_pending_rows=1)   # a commit per day
    assert result.calls == GOOD and Warehouse(wh).snapshot_dir().name.endswith("-0003")   # 3 days
    calls = rows(wh, "calls")
    assert len(calls) == GOOD and {c["score_hash"] for c in calls} == {new.score_hash}
    assert len(rows(wh, "criteria")) == GOOD * len(new.score.criteria)
    run = rows(wh, "runs")[-1]
    assert (run["command"], run["status"], run["calls_scored"]) == ("rescore", "complete", GOOD)


def test_a_call_over_the_length_limit_is_an_error_row_and_the_rest_goes_on(tmp_path):
    write_call(tmp_path / "rec/long.wav", seconds=30)
    write_call(tmp_path / "rec/short.wav", seconds=8, offset_s=20)
    summary = run(tmp_path / "rec", tmp_path / "wh", config=batch_config("[measure]\nmax_duration_s = 10.0\n"))
    assert (summary.scored, summary.failed) == (1, 1)
    [error] = rows(tmp_path / "wh", "errors")
    assert (error["source_path"], error["error_type"]) == ("long.wav", "too_long")
    assert [c["source_path"] for c in rows(tmp_path / "wh", "calls")] == ["short.wav"]


def readme_views(wh: Path):
    duckdb = pytest.importorskip("duckdb")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("DuckDB:\n```sql\n") + len("DuckDB:\n```sql\n")
    sql = readme[start: readme.index("```", start)].replace("/srv/qa-warehouse", str(wh))
    db = duckdb.connect()
    db.execute(sql)
    return db


def mixed_minimum(wh: Path) -> float:
    """A [score] min_decided_weight between the calls' decided weights: some calls scored, some not
    (without ASR a 30 s stereo cut decides about a quarter of the weight, the mono call less)."""
    weights = sorted({c["score_decided_weight"] for c in rows(wh, "calls")})
    return (weights[0] + weights[-1]) / 2


def test_the_readme_duckdb_views_run_add_up_and_skip_calls_not_scored(first_run, tmp_path):
    base, _, _ = first_run
    _, wh = copy_of(first_run, tmp_path)
    rescore_warehouse(wh, config=batch_config(f"[score]\nmin_decided_weight = {mixed_minimum(base / 'wh')}\n"))
    assert 0 < sum(c["score_total"] is not None for c in rows(wh, "calls")) < len(rows(wh, "calls"))
    for out in (base / "wh", wh):   # none scored (ASR off, the default minimum); some scored
        db = readme_views(out)
        calls = rows(out, "calls")
        scored = [c for c in calls if c["score_total"] is not None]
        daily = db.sql("SELECT call_date, agent_id, calls, audio_h, not_scored, score_mean FROM agent_daily").fetchall()
        assert sum(r[2] for r in daily) == len(calls) and sum(r[4] for r in daily) == len(calls) - len(scored)
        assert sum(r[3] for r in daily) == pytest.approx(sum(c["duration_s"] for c in calls) / 3600)
        assert all((r[5] is None) == (r[4] == r[2]) for r in daily)   # a mean where any call was scored
        by_queue = {(r[0], r[1], r[2]): r[3:] for r in
                    db.sql("SELECT call_date, queue, criterion_id, fail_share, not_scored FROM queue_daily").fetchall()}
        for call in calls:
            same = [c for c in calls if c["queue"] == call["queue"] and c["call_date"] == call["call_date"]]
            decided = [c["verdict_no_dead_air"] for c in same
                       if c["score_total"] is not None and c["verdict_no_dead_air"] != "abstain"]
            expected = (sum(v == "fail" for v in decided) / len(decided)) if decided else None
            unscored = sum(c["score_total"] is None for c in same)
            assert by_queue[(call["call_date"], call["queue"], "no_dead_air")] == (expected, unscored)


def test_the_batch_summary_counts_failures_over_scored_calls_only(first_run, tmp_path):
    from speechqa.cli_warehouse import summary_text

    base, _, summary = first_run
    calls = rows(base / "wh", "calls")
    assert all(c["score_total"] is None for c in calls)   # ASR off: too little decided
    text = summary_text(summary)
    assert f"criteria failed most often (the 0 scored call(s) in the warehouse; skipped {len(calls)} not scored" in text
    assert text.split("criteria failed most often")[1].splitlines()[1] == "  none"
    _, wh = copy_of(first_run, tmp_path)
    rescore_warehouse(wh, config=batch_config(f"[score]\nmin_decided_weight = {mixed_minimum(base / 'wh')}\n"))
    scored = sum(c["score_total"] is not None for c in rows(wh, "calls"))
    text = summary_text(dataclasses.replace(summary, warehouse=wh))
    assert f"(the {scored} scored call(s) in the warehouse; skipped {len(calls) - scored} not scored" in text
    decided = [int(m.group(1)) for line in text.splitlines() if (m := re.search(r"failed in \d+ of (\d+) decided", line))]
    assert decided and max(decided) <= scored


def test_a_pool_that_breaks_between_two_submissions_costs_no_call():
    """A worker dying after one wait and before the next submit makes `submit` itself raise
    BrokenProcessPool (seen as 1 run in 5 with kill -9 of a worker): the call not yet submitted
    goes back to its queue, the pool is replaced, every call still comes back once."""
    from concurrent.futures.process import BrokenProcessPool
    from types import SimpleNamespace

    from speechqa.batch import execute
    from speechqa.worker import Job, Outcome

    class BreaksOnThirdSubmit(ThreadPoolExecutor):
        def __init__(self):
            super().__init__(max_workers=2)
            self.submitted = 0

        def submit(self, fn, *args, **kwargs):
            self.submitted += 1
            if self.submitted == 3:
                raise BrokenProcessPool("A child process terminated abruptly")
            return super().submit(fn, *args, **kwargs)

    pools = []

    def factory(threads):
        pools.append(BreaksOnThirdSubmit() if not pools else ThreadPoolExecutor(max_workers=2))
        return pools[-1]

    jobs = [Job(source=SimpleNamespace(shown_relpath=f"{i}.wav"), call_id=f"c{i}", config=None, override=None,
                threads=1, run_id="r", model_id="none") for i in range(6)]
    outcomes = list(execute(jobs, lambda job: Outcome(job.call_id, job.source.shown_relpath, records={}),
                            factory, threads=1, in_flight=2))
    assert sorted(o.call_id for o in outcomes) == [f"c{i}" for i in range(6)] and all(o.ok for o in outcomes)
    assert len(pools) == 2


def test_an_error_that_stops_the_run_commits_what_is_finished_and_marks_it_failed(tmp_path):
    write_call(tmp_path / "rec/a.wav", seconds=10)
    write_call(tmp_path / "rec/b.wav", seconds=10, offset_s=10)

    class Breaks(Progress):
        def call_done(self, outcome):
            if outcome.relpath == "b.wav":
                raise RuntimeError("a bug after the second call")

    with pytest.raises(RuntimeError):
        run(tmp_path / "rec", tmp_path / "wh", progress=Breaks())
    [row] = rows(tmp_path / "wh", "runs")
    assert row["status"] == "failed" and row["ended_utc"] is not None
    assert {c["source_path"] for c in rows(tmp_path / "wh", "calls")} == {"a.wav", "b.wav"}


def test_purge_by_customer_is_an_erasure_with_the_batch_salt_only(first_run, tmp_path, capsys):
    from speechqa.cli import main
    from speechqa.errors import SpeechQAError

    _, wh = copy_of(first_run, tmp_path)
    config = batch_config()
    other_salt = dataclasses.replace(config, batch=dataclasses.replace(
        config.batch, sources=dataclasses.replace(config.batch.sources, customer_id_salt="")))
    with pytest.raises(SpeechQAError, match="customer_id_salt is not the one") as info:   # it would match nothing
        purge_warehouse(wh, customer="5550001", config=other_salt)
    assert info.value.error_type == "bad_config"
    keep = dataclasses.replace(config, batch=dataclasses.replace(
        config.batch, sources=dataclasses.replace(config.batch.sources, customer_id="keep")))
    with pytest.raises(SpeechQAError, match='stores customer ids as customer_id = "hash"'):
        purge_warehouse(wh, customer="5550001", config=keep)
    toml = tmp_path / "config.toml"
    toml.write_text(TEST_CONFIG, encoding="utf-8")
    assert main(["purge", str(wh), "--customer", "5550009", "--config", str(toml)]) == 1   # no such customer
    assert "nothing was purged" in capsys.readouterr().err
    # Given both, only the calls matching both go: 5550001's call is on the 22nd, not before it.
    assert purge_warehouse(wh, customer="5550001", before=date(2026, 11, 22), config=config) == 0
    doomed = next(r["call_id"] for r in rows(wh, "calls") if r["source_path"] == shown("sales/20261122-091500_ag1_5550001.wav"))
    assert purge_warehouse(wh, customer="5550001", before=date(2026, 11, 23), config=config) == 1
    # An erasure: no snapshot kept for readers still holds the call's rows.
    snapshots = list((wh / ".snapshots").iterdir())
    assert snapshots == [Warehouse(wh).snapshot_dir()]
    for path in (wh / ".snapshots").rglob("*.parquet"):
        table = pq.read_table(path)
        assert "call_id" not in table.column_names or doomed not in table.column("call_id").to_pylist(), path


def test_the_readme_says_purge_deletes_the_calls_matching_both():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `speechqa purge"):readme.index("### `speechqa config")]
    assert "and/or" not in section and "matching both" in section


def test_a_new_warehouse_without_calls_or_words_reads_with_the_readme_views(first_run, tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "notes.wav").write_text("not audio")   # the run's one call fails
    run(tmp_path / "rec", tmp_path / "wh")
    for wh in (tmp_path / "wh", first_run[0] / "wh"):   # no calls at all; no ASR, so no words
        db = readme_views(wh)
        assert db.sql("SELECT sum(calls) FROM agent_daily").fetchall() == [(len(rows(wh, "calls")) or None,)]
        db.sql("SELECT * FROM queue_daily").fetchall()
        for table in ("utterances", "words"):
            assert db.sql(f"SELECT count(*) FROM read_parquet('{wh}/current/{table}/*/*.parquet', "
                          "hive_partitioning = true, union_by_name = true)").fetchall() == [(0,)]
