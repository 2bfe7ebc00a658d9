"""The `speechqa` command: scorecard, JSON, exit codes, one-line errors, help texts."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechqa.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
STEREO = ROOT / "samples" / "call_en_stereo.wav"
MONO = ROOT / "samples" / "call_ru_mono.wav"


def speechqa(*args):
    return subprocess.run([sys.executable, "-m", "speechqa", *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_score_json_has_the_documented_keys():
    run = speechqa("score", "--json", STEREO)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    for key in ("call_id", "path", "duration_s", "sample_rate_hz", "channels", "roles", "quality", "metrics",
                "criteria", "score", "measure_hash", "score_hash", "speechqa_version"):
        assert key in out, key
    assert out["roles"] == {**out["roles"], "agent": "left", "caller": "right"}
    # the English sample's agent opens with a greeting, so its words may decide the roles
    assert out["roles"]["method"] in ("transcript", "first_speaker")
    assert set(out["score"]) >= {"total", "not_scored", "decided_weight", "abstained_weight", "abstentions"}
    assert {"id", "value", "threshold", "verdict", "evidence"} <= set(out["criteria"][0])
    assert isinstance(out["metrics"]["agent_turns"], int) and isinstance(out["metrics"]["agent_talk_s"], float)


def test_scorecard_and_agent_override():
    run = speechqa("score", "--agent", "right", STEREO, MONO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("speechqa scorecard") == 2
    assert "agent: right channel (config" in run.stdout
    assert "agent: one of two voices in one channel (diarized" in run.stdout   # the mono sample, split
    assert "cannot be told apart in one channel" in run.stdout   # what needs overlap abstains, and says why


def test_a_call_with_too_little_measured_is_not_scored_and_says_why():
    # Without a transcript the word criteria (10.5 of the 19.5 shipped weight, emphasis and caller_mood among them) abstain, and
    # calm_when_caller_raised (1) with no raised caller: under half decided.
    run = speechqa("score", "--no-asr", "--json", STEREO)
    assert run.returncode == 0, run.stderr
    score = json.loads(run.stdout)["score"]
    assert score["total"] is None and score["not_scored"].startswith("too little could be measured: 41% of")
    assert score["decided_weight"] == pytest.approx(8 / 19.5, abs=1e-4)
    no_asr = next(a for a in score["abstentions"] if a["reason"].startswith("no transcript"))
    assert no_asr["weight"] == pytest.approx(10.5 / 19.5, abs=1e-4) and "greeting" in no_asr["criteria"]
    card = speechqa("score", "--no-asr", STEREO).stdout
    assert "SCORE n/a   decided weight 41%" in card and "not scored: too little could be measured" in card
    assert "why criteria abstained:" in card and "no transcript: speech recognition is off" in card


@pytest.mark.parametrize(
    "make, error_type",
    [
        (lambda d: d / "absent.wav", "not_found"),
        (lambda d: d, "is_directory"),
        (lambda d: _write(d / "empty.wav", b""), "empty_file"),
        (lambda d: _write(d / "notes.wav", b"this is a text file, not a recording\n" * 20), "not_audio"),
        (lambda d: _silence(d / "silent.wav"), "no_speech"),
    ],
)
def test_bad_input_is_one_line_error_with_type(tmp_path, make, error_type):
    path = make(tmp_path)
    run = speechqa("score", path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error [{error_type}]: ") and str(path) in lines[0]


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    run = speechqa("score", "--json", tmp_path / "absent.wav", STEREO)
    assert run.returncode == 1
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert rows[0]["error_type"] == "not_found" and rows[1]["channels"] == 2


def test_bad_config_exits_2(tmp_path):
    bad = _write(tmp_path / "bad.toml", b"[measure]\nagnet = 'left'\n")
    run = speechqa("score", "--config", bad, STEREO)
    assert run.returncode == 2 and "agnet" in run.stderr and "Traceback" not in run.stderr


def test_config_command_prints_loadable_toml(tmp_path):
    run = speechqa("config")
    assert run.returncode == 0 and "measure_hash" in run.stdout
    path = _write(tmp_path / "c.toml", run.stdout.encode())
    assert speechqa("config", "--config", path).stdout == run.stdout


def test_every_command_and_option_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0]
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"{name} {action.dest}"


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _silence(path):
    sf.write(path, np.zeros((8000, 2), dtype=np.int16), 8000, subtype="PCM_16")
    return path
