"""The batch from the command line, on a Dask cluster, and with transcription."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batch_helpers import BAD, SAMPLES, shown, TEST_CONFIG, batch_config, crash_on_mono, make_folder
from speechqa.batch import run_batch
from speechqa.cli import main
from speechqa.config import parse_config
from speechqa.rescore import rescore_warehouse
from test_batch import GOOD, assert_same_tables, in_process, rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    make_folder(base / "rec")
    (base / "config.toml").write_text(TEST_CONFIG, encoding="utf-8")
    return base


def test_cli_batch_logs_each_call_and_prints_a_summary(folder, tmp_path, capsys):
    code = main(["batch", str(folder / "rec"), "--out", str(tmp_path / "wh"), "--config", str(folder / "config.toml")])
    out, err = capsys.readouterr()
    assert code == 1   # the bad files failed
    assert "warehouse: " in out and f"{GOOD} scored, {BAD} failed, 0 skipped (of {GOOD + BAD} calls found)" in out
    assert "criteria failed most often" in out and "FAILED [not_audio] x_bad/notes.wav" in out
    call_lines = [line for line in err.splitlines() if "] " in line and " call " in line]
    assert len(call_lines) == GOOD + BAD - 1   # one plain line per call processed (not a terminal here)
    # every failure is a line on stderr, the lone leg found before scoring too
    assert sum("FAILED" in line for line in err.splitlines()) == BAD
    assert any("support/legs/lonely_in.wav FAILED missing_leg" in line for line in err.splitlines())
    assert any(shown("sales/20261122-091500_ag1_5550001.wav") + " call " in line and line.endswith("scored") for line in call_lines)
    assert str(folder) not in err   # files are named by their path inside the recordings folder

    good = tmp_path / "good"
    shutil.copytree(folder / "rec", good)
    shutil.rmtree(good / "x_bad")
    (good / "support/legs/lonely_in.wav").unlink()
    code = main(["batch", str(good), "--out", str(tmp_path / "wh2"), "--config", str(folder / "config.toml"), "--quiet"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "", "")
    code = main(["batch", str(good), "--out", str(tmp_path / "wh2"), "--config", str(folder / "config.toml")])
    assert code == 0 and f"0 scored, 0 failed, {GOOD} skipped" in capsys.readouterr().out


def test_cli_rescore_and_purge(folder, tmp_path, capsys):
    wh = tmp_path / "wh"
    run_batch(folder / "rec", wh, config=batch_config(), executor_factory=in_process)
    new = tmp_path / "new.toml"
    new.write_text(TEST_CONFIG + "[score.timing]\ndead_air_s = 0.3\n", encoding="utf-8")
    assert main(["rescore", str(wh), "--config", str(new)]) == 0
    assert f"rescored {GOOD} call(s) with score_hash {parse_config(new.read_text(), source='x').score_hash}" in capsys.readouterr().out
    assert main(["purge", str(wh), "--config", str(new)]) == 2
    assert "--before" in capsys.readouterr().err
    assert main(["purge", str(wh), "--customer", "5550002", "--config", str(new)]) == 0
    assert "purged 1 call(s)" in capsys.readouterr().out
    assert len(rows(wh, "calls")) == GOOD - 1
    assert main(["batch", str(folder / "nowhere"), "--out", str(wh)]) == 2


def test_a_dask_cluster_gives_the_same_tables_and_survives_a_crashing_worker(folder, tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    from speechqa.cluster import dask_executor_factory

    local = tmp_path / "local"
    run_batch(folder / "rec", local, config=batch_config(), executor_factory=in_process)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with distributed.Client(cluster) as client:
                summary = run_batch(folder / "rec", tmp_path / "dask", config=batch_config(),
                                    executor_factory=dask_executor_factory(client))
                assert (summary.scored, summary.failed) == (GOOD, BAD)
                assert_same_tables(local, tmp_path / "dask")
                crashed = run_batch(folder / "rec", tmp_path / "crash", config=batch_config(),
                                    executor_factory=dask_executor_factory(client), process=crash_on_mono)
    assert (crashed.scored, crashed.failed) == (GOOD - 1, BAD + 1)
    error = next(r for r in rows(tmp_path / "crash", "errors") if r["source_path"] == "other/mono.wav")
    assert error["error_type"] == "worker_crashed" and "KilledWorker" in error["message"]


@pytest.mark.asr
def test_transcripts_land_masked_and_rescore_reads_them_back(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(SAMPLES / "call_en_stereo.wav", rec / "call.wav")
    config = parse_config("", source="default")
    run_batch(rec, tmp_path / "wh", config=config, executor_factory=in_process)
    [call] = rows(tmp_path / "wh", "calls")
    utterances, words = rows(tmp_path / "wh", "utterances"), rows(tmp_path / "wh", "words")
    assert call["language"] == "en" and call["words_total"] == len(words) > 50
    text = " ".join(u["text"] for u in utterances)
    assert "[CARD]" in text or "[NUMBER]" in text
    assert not any(sum(ch.isdigit() for ch in w["text"]) >= 7 for w in words)   # no card number survives
    assert {(w["call_id"], w["utterance_index"]) for w in words} <= {(u["call_id"], u["utterance_index"]) for u in utterances}
    current = tmp_path / "wh" / "current"
    found = duckdb.sql(
        f"SELECT count(*), min(call_date) FROM read_parquet('{current}/utterances/*/*.parquet', hive_partitioning = true)"
    ).fetchall()[0]
    assert found == (len(utterances), call["call_date"])
    # Through Parquet and back, the words give the same word metrics: rescoring with the same
    # configuration changes nothing.
    result = rescore_warehouse(tmp_path / "wh", config=config)
    assert result.changed_verdicts == 0
    [again] = rows(tmp_path / "wh", "calls")
    for name in ("agent_words", "caller_rate_wpm", "rate_ratio", "agent_greeting", "agent_clarifying_questions", "score_total"):
        assert again[name] == pytest.approx(call[name], abs=1e-9), name


def test_progress_bar_on_a_terminal_log_lines_elsewhere_nothing_when_quiet():
    import io

    from speechqa.batch import Progress
    from speechqa.progress import BarProgress, LogProgress, progress_for
    from speechqa.worker import Outcome

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = progress_for(screen, quiet=False)
    assert isinstance(bar, BarProgress)
    bar.start(4, 1)
    bar.call_done(Outcome("c1", "a.wav", records={}))
    bar.call_done(Outcome("c2", "b.wav", error_type="not_audio", message="b.wav: not audio"))
    bar.failed_early(Outcome("", "legs/x_in.wav", error_type="missing_leg", message="legs/x_in.wav has no partner"))
    shown = screen.getvalue()
    assert "4 call(s) to score, 1 already in the warehouse" in shown
    assert "\r[" + "#" * 15 + "." * 15 + "] 2/4 calls, 1 failed, 0:00:00 left" in shown
    # failures are lines of their own above the bar, not only a count in it
    assert "\r\x1b[KError [not_audio]: b.wav: not audio\n" in shown
    assert "\r\x1b[KError [missing_leg]: legs/x_in.wav has no partner\n" in shown
    log = io.StringIO()
    assert isinstance(progress_for(log, quiet=False), LogProgress)
    assert type(progress_for(log, quiet=True)) is Progress


def test_a_file_name_cannot_forge_log_lines_or_drive_the_terminal(tmp_path, capsys):
    forged = "2026-11-22T03:00:00Z fine.wav call 1234 scored"   # no "/": it is one file name
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / f"evil\n{forged}\x1b[2J\x1b]0;owned\x07.wav").write_text("not audio")
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    assert main(["batch", str(rec), "--out", str(tmp_path / "wh"), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    for text in (out, err):
        assert "\x1b" not in text and "\x07" not in text
        assert not any(line.startswith(forged) for line in text.splitlines())
    assert "evil\\n2026-11-22T03:00:00Z" in err and "\\x1b[2J" in err
    assert main(["score", str(next(rec.iterdir()))]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "\x1b" not in err and "evil\\n" in err


def test_a_linked_folder_is_scored_and_hidden_files_are_told(tmp_path, capsys):
    import os

    from batch_helpers import write_call

    write_call(tmp_path / "disk2/day/a.wav", seconds=8)
    write_call(tmp_path / "rec/.partial.wav", seconds=8, offset_s=8)
    os.symlink(tmp_path / "disk2/day", tmp_path / "rec/day")
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    assert main(["batch", str(tmp_path / "rec"), "--out", str(tmp_path / "wh"), "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert [r["source_path"] for r in rows(tmp_path / "wh", "calls")] == ["day/a.wav"]
    told = 'ignored 1 hidden file(s) or folder(s) (names starting with "."; rename them to score them): .partial.wav'
    assert told in err and told in out
