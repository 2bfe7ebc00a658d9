"""SIGKILL a batch at several moments: the warehouse stays readable, and the next run finishes
the rest with no call lost and none duplicated. And two runs on one warehouse."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import pytest

from batch_helpers import hold_the_lock, make_folder, run_and_die, batch_config
from speechqa.batch import run_batch
from speechqa.cli import main
from speechqa.errors import SpeechQAError
from speechqa.warehouse import Warehouse
from test_batch import GOOD, assert_same_tables, in_process, rows

pytestmark = pytest.mark.slow
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("kill")
    make_folder(base / "rec")
    run_batch(base / "rec", base / "wh", config=batch_config(), executor_factory=in_process)
    return base


def readable_and_consistent(wh: Path) -> set[str]:
    """Every table reads; each stored call has one calls row and all its criteria rows."""
    calls = rows(wh, "calls")
    ids = [r["call_id"] for r in calls]
    assert len(ids) == len(set(ids)), "a call stored twice"
    n = len(batch_config().score.criteria)
    criteria = rows(wh, "criteria")
    assert len(criteria) == n * len(ids) and {r["call_id"] for r in criteria} == set(ids)
    assert {r["call_id"] for r in rows(wh, "turns")} == set(ids)
    for table in ("utterances", "words", "errors", "runs"):
        Warehouse(wh).read(table)
    return set(ids)


@pytest.mark.parametrize("point", ["start", "after_call", "mid_write", "before_swap", "after_commit"])
def test_killed_run_leaves_a_readable_warehouse_and_the_next_run_completes_it(reference, tmp_path, point):
    rec = tmp_path / "rec"
    shutil.copytree(reference / "rec", rec)
    wh = tmp_path / "wh"
    child = SPAWN.Process(target=run_and_die, args=(str(rec), str(wh), point))
    child.start()
    child.join(120)
    assert child.exitcode == -9, f"the run was to be killed at {point}"
    stored = readable_and_consistent(wh) if (wh / "current").exists() else set()
    if point in ("start", "after_call", "mid_write"):
        assert not stored, "nothing was committed before the kill"
    else:
        assert 0 < len(stored) < GOOD
    if point == "before_swap":
        assert list((wh / ".snapshots").glob("*")) and len(stored) == 1   # written, not visible
    summary = run_batch(rec, wh, config=batch_config(), executor_factory=in_process)
    assert summary.scored == GOOD - len(stored) and summary.skipped == len(stored)
    assert len(readable_and_consistent(wh)) == GOOD
    assert not list((wh / ".snapshots").glob("*.tmp"))
    assert_same_tables(reference / "wh", wh, ignore={"failures"})
    statuses = [r["status"] for r in rows(wh, "runs")]
    assert statuses[-1] == "failed" and (statuses[:-1] in ([], ["killed"]))


def test_a_second_run_is_refused_while_the_first_holds_the_warehouse(reference, tmp_path, capsys):
    wh = tmp_path / "wh"
    first = SPAWN.Process(target=hold_the_lock, args=(str(reference / "rec"), str(wh)))
    first.start()
    try:
        deadline = time.monotonic() + 60
        while not ((wh / ".lock").exists() and (wh / ".lock").read_text()):
            assert time.monotonic() < deadline and first.is_alive()
            time.sleep(0.05)
        with pytest.raises(SpeechQAError, match="another speechqa run") as info:
            run_batch(reference / "rec", wh, config=batch_config(), executor_factory=in_process)
        assert info.value.error_type == "warehouse_busy"
        assert main(["batch", str(reference / "rec"), "--out", str(wh), "--no-asr", "--quiet"]) == 2
        assert "another speechqa run" in capsys.readouterr().err
    finally:
        first.join(180)
    assert first.exitcode == 0
    assert len(readable_and_consistent(wh)) == GOOD


def test_sigterm_commits_what_is_finished_and_the_next_run_does_the_rest(reference, tmp_path):
    import signal
    import subprocess
    import sys

    from batch_helpers import TEST_CONFIG

    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    wh = tmp_path / "wh"
    command = [sys.executable, "-m", "speechqa", "batch", str(reference / "rec"), "--out", str(wh), "--config", str(config)]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    for line in child.stderr:   # one line per call: stop it after the first
        if "[1/" in line:
            child.send_signal(signal.SIGTERM)
            break
    rest = child.stderr.read()
    assert child.wait(120) == 130, rest
    assert "interrupted" in rest
    stored = readable_and_consistent(wh)
    assert 1 <= len(stored) <= GOOD
    assert rows(wh, "runs")[-1]["status"] == "interrupted"
    summary = run_batch(reference / "rec", wh, config=batch_config(), executor_factory=in_process)
    assert summary.scored == GOOD - len(stored)
    assert len(readable_and_consistent(wh)) == GOOD


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"   # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux /proc")
def test_workers_and_their_resource_tracker_exit_when_the_batch_is_killed(reference, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from batch_helpers import hanging_batch; "
            f"hanging_batch({str(reference / 'rec')!r}, {str(tmp_path / 'wh')!r})")
    parent = subprocess.Popen([sys.executable, "-c", code])   # a batch of its own, as from a shell
    deadline = time.monotonic() + 60
    while len(children := _children(parent.pid)) < 3:   # two workers and the resource tracker
        assert time.monotonic() < deadline and parent.poll() is None, children
        time.sleep(0.1)
    time.sleep(1.0)   # the workers past their start-up, busy on a call each
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while left := {pid for pid in children if _alive(pid)}:
        if time.monotonic() > deadline:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"{len(left)} process(es) of the killed batch still running")
        time.sleep(0.1)
