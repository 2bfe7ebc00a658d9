"""The warehouse's storage: snapshots, replacement, schema evolution, the lock, and readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from speechqa.errors import SpeechQAError
from speechqa.tables import table_schema, to_table
import speechqa.warehouse as warehouse_module
from speechqa.warehouse import Changes, Warehouse, WarehouseLock

D1, D2 = date(2026, 11, 21), date(2026, 11, 22)


def _utterances(call_id: str, day: date, texts: list[str], *, measure_hash: str = "m1") -> pa.Table:
    return to_table("utterances", [
        {"call_id": call_id, "call_date": day, "utterance_index": i, "party": "agent",
         "start_s": float(i), "end_s": i + 0.5, "text": t, "avg_logprob": -0.2, "language": "en",
         "measure_hash": measure_hash, "model_id": "base:abc"}
        for i, t in enumerate(texts)
    ])


def _texts(warehouse: Warehouse) -> dict[str, list[str]]:
    rows = warehouse.read("utterances").to_pylist()
    out: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["call_id"], r["utterance_index"])):
        out.setdefault(row["call_id"], []).append(row["text"])
    return out


def test_commit_replace_and_delete(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path / "wh")
    assert wh.read("utterances").num_rows == 0   # an empty warehouse reads as empty tables
    wh.commit(Changes(rows={"utterances": pa.concat_tables([
        _utterances("a", D1, ["hello", "bye"]), _utterances("b", D2, ["hi"])])}), snapshot_id="s1")
    assert _texts(wh) == {"a": ["hello", "bye"], "b": ["hi"]}
    # New rows of a call replace its old ones; other calls and days stay.
    wh.commit(Changes(rows={"utterances": _utterances("a", D1, ["good morning"])}), snapshot_id="s2")
    assert _texts(wh) == {"a": ["good morning"], "b": ["hi"]}
    # A call whose content moved to another day: delete names the old day.
    wh.commit(Changes(rows={"utterances": _utterances("c", D2, ["x"])}, delete={"a": D1}), snapshot_id="s3")
    assert _texts(wh) == {"b": ["hi"], "c": ["x"]}
    assert not list((wh.snapshot_dir() / "utterances").glob("day=2026-11-21"))
    # One file per table and day, whatever the number of commits.
    assert len(list((wh.snapshot_dir() / "utterances" / "day=2026-11-22").iterdir())) == 1
    # Old snapshots are collected: the current one and the one before it stay, and those
    # replaced less than KEEP_REPLACED_S ago (s1, here).
    assert sorted(p.name for p in (wh.root / ".snapshots").iterdir()) == ["s1", "s2", "s3"]
    monkeypatch.setattr(warehouse_module, "KEEP_REPLACED_S", 0.0)
    wh.commit(Changes(rows={"utterances": _utterances("c", D2, ["y"])}), snapshot_id="s4")
    assert sorted(p.name for p in (wh.root / ".snapshots").iterdir()) == ["s3", "s4"]


def test_untouched_days_are_shared_not_copied(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.commit(Changes(rows={"utterances": pa.concat_tables([_utterances("a", D1, ["x"]), _utterances("b", D2, ["y"])])}), snapshot_id="s1")
    first = next((wh.snapshot_dir() / "utterances" / "day=2026-11-21").iterdir())
    wh.commit(Changes(rows={"utterances": _utterances("b", D2, ["z"])}), snapshot_id="s2")
    again = next((wh.snapshot_dir() / "utterances" / "day=2026-11-21").iterdir())
    assert os.stat(first).st_ino == os.stat(again).st_ino


def test_files_carry_provenance_microseconds_and_compression(tmp_path):
    wh = Warehouse(tmp_path / "wh", compression="zstd", metadata={"measure_hash": "m1", "model_id": "base:abc"})
    errors = to_table("errors", [{
        "source_path": "x.wav", "fingerprint": "f", "call_id": None, "error_type": "not_audio", "message": "m",
        "run_id": "r", "first_failure_utc": datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=timezone.utc),
        "last_failure_utc": datetime(2026, 11, 22, 1, 2, 3, tzinfo=timezone.utc), "failures": 1}])
    wh.commit(Changes(replace={"errors": errors}, rows={"utterances": _utterances("a", D1, ["x"])}), snapshot_id="s1")
    path = wh.snapshot_dir() / "errors" / "errors.parquet"
    meta = pq.read_metadata(path)
    kv = {k.decode(): v.decode() for k, v in meta.metadata.items()}
    assert kv["speechqa_table"] == "errors" and "speechqa_version" in kv and "measure_hash" not in kv   # no such rows
    assert meta.row_group(0).column(0).compression == "ZSTD"
    schema = pq.read_schema(path)
    assert schema.field("first_failure_utc").type == pa.timestamp("us", tz="UTC")
    assert wh.read("errors").column("first_failure_utc")[0].as_py().microsecond == 456789
    day_file = next((wh.snapshot_dir() / "utterances" / "day=2026-11-21").iterdir())
    assert "call_date" in pq.read_schema(day_file).names   # inside the file too, for BI connectors
    assert file_meta(day_file)["measure_hash"] == "m1" and file_meta(day_file)["model_id"] == "base:abc"
    # A later run measuring another call of that day with another [measure]: the file holds rows
    # of both, and its metadata says so rather than naming only the last run's configuration.
    Warehouse(tmp_path / "wh", metadata={"measure_hash": "m2"}).commit(
        Changes(rows={"utterances": _utterances("b", D1, ["y"], measure_hash="m2")}), snapshot_id="s2")
    day_file = next((wh.snapshot_dir() / "utterances" / "day=2026-11-21").iterdir())
    assert file_meta(day_file)["measure_hash"] == "m1,m2"


def file_meta(path) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items()}


def test_a_column_added_later_does_not_break_older_days(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    old = _utterances("a", D1, ["old"]).drop_columns(["language"])   # as an older version wrote it
    wh.commit(Changes(rows={"utterances": old}), snapshot_id="s1")
    wh.commit(Changes(rows={"utterances": _utterances("b", D2, ["new"])}), snapshot_id="s2")
    rows = {r["call_id"]: r for r in wh.read("utterances").to_pylist()}
    assert rows["a"]["language"] is None and rows["b"]["language"] == "en"
    duckdb = pytest.importorskip("duckdb")
    found = duckdb.sql(
        f"SELECT call_id, language, call_date FROM read_parquet('{wh.root}/current/utterances/*/*.parquet', "
        "hive_partitioning = true, union_by_name = true) ORDER BY call_id"
    ).fetchall()
    assert found == [("a", None, D1), ("b", "en", D2)]


def test_unknown_columns_are_refused():
    with pytest.raises(KeyError, match="not in the 'utterances' schema"):
        to_table("utterances", [{"call_id": "a", "call_date": D1, "mood": "x"}])
    table = to_table("calls", [{"call_id": "a", "call_date": D1, "verdict_greeting": "pass", "meta_branch": "north"}])
    assert table.schema.names[-2:] == ["meta_branch", "verdict_greeting"]
    assert set(table_schema("calls").names) < set(table.schema.names)


def test_an_unfinished_snapshot_is_invisible_and_cleaned(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.commit(Changes(rows={"utterances": _utterances("a", D1, ["x"])}), snapshot_id="s1")

    def die():
        raise KeyboardInterrupt   # stands for a kill after writing, before the swap

    with pytest.raises(KeyboardInterrupt):
        wh.commit(Changes(rows={"utterances": _utterances("a", D1, ["y"])}), snapshot_id="s2", before_swap=die)
    assert _texts(wh) == {"a": ["x"]}
    (wh.root / ".snapshots" / "s3.tmp").mkdir()
    wh.clean_unfinished()
    assert not list((wh.root / ".snapshots").glob("*.tmp"))


def test_a_folder_that_is_not_a_warehouse_is_refused(tmp_path):
    (tmp_path / "current").mkdir()
    with pytest.raises(SpeechQAError, match="not a speechqa warehouse"):
        Warehouse(tmp_path).read("calls")


def test_second_writer_is_refused_and_a_killed_holder_frees_the_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from speechqa.warehouse import WarehouseLock
            with WarehouseLock(Path({str(tmp_path)!r}), run_id="first"):
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SpeechQAError, match="another speechqa run.*run first") as info:
            with WarehouseLock(tmp_path, run_id="second"):
                pass
        assert info.value.error_type == "warehouse_busy"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with WarehouseLock(tmp_path, run_id="third"):   # not stuck after the holder died
        pass


def _day_rows(call_id: str, text: str) -> Changes:
    return Changes(rows={"utterances": _utterances(call_id, D1, [text])})


def test_a_reader_on_a_resolved_snapshot_keeps_its_files_through_frequent_commits(tmp_path):
    """The reader contract (README, "Reading it"): resolve `current` once and read that folder.
    Its files stay while commits follow each other (each rewrites the day: a new file name), for
    KEEP_REPLACED_S after it was replaced; before, two commits removed them under the reader."""
    duckdb = pytest.importorskip("duckdb")
    wh = Warehouse(tmp_path / "wh")
    wh.commit(_day_rows("a", "x"), snapshot_id="s0000")
    snapshot = os.path.realpath(tmp_path / "wh" / "current")
    listed = sorted(Path(snapshot).glob("utterances/*/*.parquet"))   # what a reader's glob lists
    for n in range(1, 6):
        wh.commit(_day_rows("a", f"x{n}"), snapshot_id=f"s{n:04d}")
    assert duckdb.sql(f"SELECT text FROM read_parquet({[str(f) for f in listed]})").fetchall() == [("x",)]


def test_duckdb_on_the_resolved_snapshot_never_fails_during_commits(tmp_path):
    import threading

    duckdb = pytest.importorskip("duckdb")
    wh = Warehouse(tmp_path / "wh")
    wh.commit(_day_rows("a", "x"), snapshot_id="s0000")
    stop, commits = threading.Event(), []

    def commit_often():
        while not stop.is_set():
            commits.append(wh.commit(_day_rows("a", f"x{len(commits)}"), snapshot_id=f"s{len(commits) + 1:04d}"))

    writer = threading.Thread(target=commit_often)
    writer.start()
    try:
        reads = 0
        while reads < 200 or len(commits) < 30:
            snapshot = os.path.realpath(tmp_path / "wh" / "current")
            assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{snapshot}/utterances/*/*.parquet', "
                              "hive_partitioning = true)").fetchall() == [(1,)]
            reads += 1
    finally:
        stop.set()
        writer.join()


def test_a_table_without_rows_is_one_empty_file_with_its_columns(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    wh = Warehouse(tmp_path / "wh")
    calls = to_table("calls", [{"verdict_greeting": None}]).schema
    wh.commit(Changes(rows={"utterances": _utterances("a", D1, ["x"])}, empty_schemas={"calls": calls}), snapshot_id="s1")
    current = tmp_path / "wh" / "current"
    for table in ("calls", "criteria", "turns", "words"):
        [empty] = (current / table).glob("*/*.parquet")
        assert empty.name == "part-empty.parquet" and pq.read_metadata(empty).num_rows == 0
        found = duckdb.sql(f"SELECT count(*) FROM read_parquet('{current}/{table}/*/*.parquet', hive_partitioning = true)")
        assert found.fetchall() == [(0,)], table
    assert "verdict_greeting" in pq.read_schema(next((current / "calls").glob("*/*.parquet"))).names
    assert Warehouse(tmp_path / "wh").read("calls").num_rows == 0
    # Rows come: the empty file goes, whichever day they are on.
    wh.commit(Changes(rows={"words": to_table("words", [{"call_id": "a", "call_date": D2, "utterance_index": 0,
                                                          "word_index": 0, "text": "x"}])}), snapshot_id="s2")
    assert [f.name for f in (current / "words").glob("*/*.parquet")] == ["part-s2.parquet"]
    assert [f.parent.name for f in (current / "utterances").glob("*/*.parquet")] == ["day=2026-11-21"]


def test_out_must_be_empty_absent_or_a_warehouse(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(SpeechQAError, match="holds other files \\(holiday.jpg\\)") as info:
        Warehouse(tmp_path / "photos").check_target()
    assert info.value.error_type == "bad_warehouse"
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpeechQAError, match="is a file"):
        Warehouse(tmp_path / "file").check_target()
    for fine in ("absent", "empty", "killed_before_its_first_commit"):
        (tmp_path / fine).mkdir(exist_ok=fine != "absent") if fine != "absent" else None
        if fine == "killed_before_its_first_commit":
            (tmp_path / fine / ".lock").write_text("pid 1")
            (tmp_path / fine / ".snapshots").mkdir()
        Warehouse(tmp_path / fine).check_target()
    wh = Warehouse(tmp_path / "wh")
    wh.commit(_day_rows("a", "x"), snapshot_id="s1")
    wh.check_target()


def test_rescore_and_purge_refuse_a_path_that_is_no_warehouse(tmp_path, capsys):
    from speechqa.cli import main

    for command in (["rescore"], ["purge", "--before", "2026-01-01"]):
        assert main([command[0], str(tmp_path / "mistyped"), *command[1:]]) == 2
        assert "does not exist" in capsys.readouterr().err and not (tmp_path / "mistyped").exists()
        (tmp_path / "empty").mkdir(exist_ok=True)
        assert main([command[0], str(tmp_path / "empty"), *command[1:]]) == 2
        assert "is not a speechqa warehouse" in capsys.readouterr().err
        assert list((tmp_path / "empty").iterdir()) == []


def _one_line_error(capsys, error_type: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Error [{error_type}]: ") and "Traceback" not in err, err
    return err


def test_a_read_only_warehouse_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    import errno

    from speechqa.cli import main

    (tmp_path / "rec").mkdir()
    (tmp_path / "wh").mkdir()

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(warehouse_module, "open", read_only, raising=False)   # the lock file is the first write
    assert main(["batch", str(tmp_path / "rec"), "--out", str(tmp_path / "wh"), "--no-asr"]) == 2
    assert "Read-only file system" in _one_line_error(capsys, "warehouse_unwritable")


def test_a_full_disk_is_one_line_and_leaves_the_warehouse_as_it_was(tmp_path, monkeypatch, capsys):
    import errno

    from speechqa.cli import main

    (tmp_path / "rec").mkdir()
    assert main(["batch", str(tmp_path / "rec"), "--out", str(tmp_path / "wh"), "--no-asr", "--quiet"]) == 0
    before = os.readlink(tmp_path / "wh" / "current")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(warehouse_module.pq, "write_table", full)
    assert main(["batch", str(tmp_path / "rec"), "--out", str(tmp_path / "wh"), "--no-asr", "--quiet"]) == 2
    assert "free some space" in _one_line_error(capsys, "warehouse_unwritable")
    assert os.readlink(tmp_path / "wh" / "current") == before
    assert not list((tmp_path / "wh" / ".snapshots").glob("*.tmp"))
