"""speechqa.sources: walking a recordings folder, pairing legs, call times and metadata,
reading two legs as one stereo call, and call ids; on small synthetic files written here."""

import dataclasses
import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import soundfile as sf

from speechqa.audio import read_two_legs
from speechqa.call import content_id
from speechqa.errors import ERROR_TYPES, SpeechQAError
from speechqa.sources import (PROBLEM_TYPES, CallSource, SourceOptions, SourceProblem, call_content_id, discover,
                              read_call)

MOSCOW_PATTERN = r"(?P<queue>[^/]+)/(?P<call_time>\d{8}-\d{6})_(?P<agent_id>\w+)_(?P<customer_id>\d+)"
MOSCOW = SourceOptions(filename_pattern=MOSCOW_PATTERN, call_time_format="%Y%m%d-%H%M%S",
                       timezone="Europe/Moscow")
T0_NS = 1_790_000_000_123_456_789      # 2026-09-21, with sub-microsecond digits


def write(path, *, sr=8000, seconds=0.5, freq_hz=440.0, channels=1, subtype="PCM_16", mtime_ns=T0_NS):
    """A tone (the same on every channel) written as WAV, its mtime set; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(sr * seconds)) / sr
    signal = (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    sf.write(path, np.stack([signal] * channels, axis=1), sr, subtype=subtype, format="WAV")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def found(root, options=SourceOptions(), **kwargs):
    calls, problems, _ = discover(root, options=options, **kwargs)
    return {c.relpath: c for c in calls}, {p.relpath: p for p in problems}


def peak_hz(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


# --- walking and pairing --------------------------------------------------------------------------


def test_pairs_agent_caller_and_out_in_legs(tmp_path):
    agent = write(tmp_path / "q/x_agent.wav", mtime_ns=T0_NS)
    caller = write(tmp_path / "q/x_caller.wav", seconds=1.0, mtime_ns=T0_NS + 5)
    write(tmp_path / "q/y-out.wav")
    write(tmp_path / "q/y-in.wav")
    write(tmp_path / "solo.wav")
    calls, problems = found(tmp_path)
    assert problems == {}
    assert list(calls) == ["q/x_agent.wav", "q/y-out.wav", "solo.wav"]      # sorted by relpath
    x = calls["q/x_agent.wav"]
    assert x.two_legs and x.paths == (agent, caller)
    assert x.size_bytes == agent.stat().st_size + caller.stat().st_size
    assert x.mtime_ns == T0_NS + 5
    assert x.fingerprint == ("q/x_agent.wav", x.size_bytes, T0_NS + 5)
    assert calls["q/y-out.wav"].paths == (tmp_path / "q/y-out.wav", tmp_path / "q/y-in.wav")
    assert not calls["solo.wav"].two_legs and calls["solo.wav"].paths == (tmp_path / "solo.wav",)


def test_a_leg_without_its_partner_is_a_problem_naming_the_partner(tmp_path):
    write(tmp_path / "call_in.wav")
    write(tmp_path / "d/x_agent.wav")
    write(tmp_path / "d/other.wav")
    calls, problems = found(tmp_path)
    assert list(calls) == ["d/other.wav"]
    assert set(problems) == {"call_in.wav", "d/x_agent.wav"}
    lonely_in = problems["call_in.wav"]
    assert lonely_in.error_type == "missing_leg"
    assert "call_out.wav" in lonely_in.message and "pair_pattern" in lonely_in.message
    assert "x_caller.wav" in problems["d/x_agent.wav"].message


def test_legs_pair_only_within_one_folder(tmp_path):
    write(tmp_path / "a/x_agent.wav")
    write(tmp_path / "b/x_caller.wav")
    calls, problems = found(tmp_path)
    assert calls == {} and {p.error_type for p in problems.values()} == {"missing_leg"}


def test_a_word_ending_in_a_leg_name_is_not_a_leg(tmp_path):
    write(tmp_path / "checkin.wav")
    write(tmp_path / "layout.wav")
    calls, problems = found(tmp_path)
    assert problems == {} and list(calls) == ["checkin.wav", "layout.wav"]
    assert not calls["checkin.wav"].two_legs


def test_several_candidate_legs_are_problems(tmp_path):
    for name in ("z_agent.wav", "z_out.wav", "z_caller.wav"):
        write(tmp_path / name)
    calls, problems = found(tmp_path)
    assert calls == {}
    assert {p.error_type for p in problems.values()} == {"missing_leg"} and len(problems) == 3
    assert "several legs" in problems["z_caller.wav"].message and "z_out.wav" in problems["z_caller.wav"].message


def test_problem_types_are_error_types():
    assert set(PROBLEM_TYPES) <= set(ERROR_TYPES)


def test_hidden_files_sidecars_and_other_extensions_are_ignored(tmp_path):
    write(tmp_path / ".hidden.wav")
    write(tmp_path / ".cache/x.wav")
    write(tmp_path / "LOUD.WAV")
    write(tmp_path / "keep.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "orphan.json").write_text("{}")
    calls, problems = found(tmp_path)
    assert problems == {} and list(calls) == ["LOUD.WAV", "keep.wav"]
    # ... but not without a word: the hidden audio file and the hidden folder are listed
    ignored = discover(tmp_path, options=SourceOptions()).ignored
    assert [(i.relpath, i.why.split(" (")[0]) for i in ignored] == [(".cache/", "hidden file(s) or folder(s)"),
                                                                     (".hidden.wav", "hidden file(s) or folder(s)")]
    only_upper = found(tmp_path, SourceOptions(extensions=(".WAV",)))[0]
    assert list(only_upper) == ["LOUD.WAV", "keep.wav"]
    assert found(tmp_path, SourceOptions(extensions=("flac",)))[0] == {}


def test_a_missing_root_is_not_found(tmp_path):
    with pytest.raises(SpeechQAError) as info:
        discover(tmp_path / "nope", options=SourceOptions())
    assert info.value.error_type == "not_found"


# --- call time and metadata --------------------------------------------------------------------


def test_filename_pattern_gives_metadata_and_local_call_time(tmp_path):
    write(tmp_path / "sales/20261122-091500_a42_777.wav")
    write(tmp_path / "sales/20261123-013000_a43_778.wav")
    calls, problems = found(tmp_path, MOSCOW)
    assert problems == {}
    morning = calls["sales/20261122-091500_a42_777.wav"]
    assert morning.call_start_utc == datetime(2026, 11, 22, 6, 15, tzinfo=UTC)    # Moscow is UTC+3
    assert morning.call_date == date(2026, 11, 22) and morning.call_time_source == "filename"
    assert morning.metadata == {"queue": "sales", "agent_id": "a42", "customer_id": "777"}
    night = calls["sales/20261123-013000_a43_778.wav"]
    assert night.call_start_utc == datetime(2026, 11, 22, 22, 30, tzinfo=UTC)
    assert night.call_date == date(2026, 11, 23)      # the local business day, not the UTC one


def test_filename_pattern_on_a_two_leg_call_reads_the_agent_leg(tmp_path):
    write(tmp_path / "sales/20261122-091500_a42_777_agent.wav")
    write(tmp_path / "sales/20261122-091500_a42_777_caller.wav")
    calls, _ = found(tmp_path, MOSCOW)
    call = calls["sales/20261122-091500_a42_777_agent.wav"]
    assert call.two_legs and call.metadata == {"queue": "sales", "agent_id": "a42", "customer_id": "777"}


def test_a_name_the_pattern_does_not_match_falls_back_to_mtime(tmp_path):
    write(tmp_path / "loose.wav", mtime_ns=T0_NS)
    calls, problems = found(tmp_path, MOSCOW)
    call = calls["loose.wav"]
    assert problems == {} and call.metadata == {} and call.call_time_source == "mtime"
    assert call.call_start_utc == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=T0_NS // 1000)
    assert call.call_date == call.call_start_utc.astimezone(ZoneInfo("Europe/Moscow")).date()


def test_two_leg_mtime_is_the_later_leg(tmp_path):
    write(tmp_path / "x_agent.wav", mtime_ns=T0_NS + 2_000_000_000)
    write(tmp_path / "x_caller.wav", mtime_ns=T0_NS)
    call = found(tmp_path)[0]["x_agent.wav"]
    assert call.mtime_ns == T0_NS + 2_000_000_000 and call.call_time_source == "mtime"
    assert call.call_start_utc == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=call.mtime_ns // 1000)


def test_json_sidecar_overrides_the_file_name(tmp_path):
    write(tmp_path / "sales/20261122-091500_a42_777.wav")
    (tmp_path / "sales/20261122-091500_a42_777.json").write_text(json.dumps(
        {"agent_id": "b7", "call_time": "2026-11-22T10:00:00+03:00", "score": 5, "vip": True, "note": None}))
    call = found(tmp_path, MOSCOW)[0]["sales/20261122-091500_a42_777.wav"]
    assert call.call_time_source == "sidecar"
    assert call.call_start_utc == datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    assert call.metadata == {"queue": "sales", "agent_id": "b7", "customer_id": "777", "score": "5", "vip": "true"}


def test_csv_sidecar_named_after_the_call_of_two_legs(tmp_path):
    write(tmp_path / "20261122-0915_42_agent.wav")
    write(tmp_path / "20261122-0915_42_caller.wav")
    (tmp_path / "20261122-0915_42.csv").write_text("call_time,agent_id,empty\n2026-11-22 09:15:00,a9,\n")
    options = SourceOptions(timezone="Europe/Moscow")
    call = found(tmp_path, options)[0]["20261122-0915_42_agent.wav"]
    assert call.call_time_source == "sidecar" and call.metadata == {"agent_id": "a9"}
    assert call.call_start_utc == datetime(2026, 11, 22, 6, 15, tzinfo=UTC)    # naive: Moscow time


def test_semicolon_csv_sidecar_of_one_leg(tmp_path):
    write(tmp_path / "x_agent.wav")
    write(tmp_path / "x_caller.wav")
    (tmp_path / "x_caller.csv").write_text("\ufeffqueue;agent_id\nsupport;b8\n", encoding="utf-8")
    assert found(tmp_path)[0]["x_agent.wav"].metadata == {"queue": "support", "agent_id": "b8"}


@pytest.mark.parametrize("name, text", [
    ("a.json", "{not json"),
    ("a.json", "[1, 2]"),
    ("a.json", '{"tags": ["x"]}'),
    ("a.csv", "agent_id\nx\ny\n"),
    ("a.csv", "agent_id,queue\nx\n"),
])
def test_a_bad_sidecar_is_a_problem_and_the_walk_goes_on(tmp_path, name, text):
    write(tmp_path / "a.wav")
    write(tmp_path / "b.wav")
    (tmp_path / name).write_text(text)
    calls, problems = found(tmp_path)
    assert list(calls) == ["b.wav"]
    assert problems["a.wav"].error_type == "bad_metadata" and name in problems["a.wav"].message


def test_an_unparseable_call_time_is_bad_metadata_without_the_customer_id(tmp_path):
    write(tmp_path / "sales/20261340-990000_a42_777.wav")
    write(tmp_path / "x.wav")
    (tmp_path / "x.json").write_text(json.dumps({"call_time": "yesterday", "customer_id": "C-SECRET-9"}))
    calls, problems = found(tmp_path, MOSCOW)
    assert calls == {}
    assert {p.error_type for p in problems.values()} == {"bad_metadata"}
    assert "%Y%m%d-%H%M%S" in problems["sales/20261340-990000_a42_777.wav"].message
    assert "yesterday" in problems["x.wav"].message and "C-SECRET-9" not in problems["x.wav"].message


@pytest.mark.parametrize("mode, expected", [
    ("keep", "777"),
    ("hash", hashlib.sha256(b"pepper777").hexdigest()[:16]),
    ("drop", None),
])
def test_customer_id_keep_hash_drop(tmp_path, mode, expected):
    write(tmp_path / "sales/20261122-091500_a42_777.wav")
    options = dataclasses.replace(MOSCOW, customer_id=mode, customer_id_salt="pepper")
    metadata = found(tmp_path, options)[0]["sales/20261122-091500_a42_777.wav"].metadata
    assert metadata.get("customer_id") == expected and metadata["agent_id"] == "a42"


def test_since_keeps_calls_from_then_on(tmp_path):
    write(tmp_path / "sales/20261122-091500_a42_777.wav")        # 06:15 UTC
    write(tmp_path / "sales/20261122-120000_a42_777.wav")        # 09:00 UTC
    write(tmp_path / "sales/20261101-120000_old_5_agent.wav")      # a lonely leg, long before
    write(tmp_path / "sales/20261122-130000_new_5_agent.wav")      # a lonely leg, after
    since = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    calls, problems = found(tmp_path, MOSCOW, since=since)
    assert list(calls) == ["sales/20261122-120000_a42_777.wav"]   # exactly at `since` is kept
    assert list(problems) == ["sales/20261122-130000_new_5_agent.wav"]
    with pytest.raises(SpeechQAError) as info:
        discover(tmp_path, options=MOSCOW, since=datetime(2026, 11, 22))
    assert info.value.error_type == "bad_config"


@pytest.mark.parametrize("options, named", [
    (SourceOptions(filename_pattern="(?P<queue>[^/]+"), "filename_pattern"),
    (SourceOptions(pair_pattern="(?P<call>.+)_(agent|caller)"), "pair_pattern"),
    (SourceOptions(pair_pattern="*"), "pair_pattern"),
    (SourceOptions(timezone="Mars/Olympus"), "timezone"),
    (SourceOptions(timezone=""), "timezone"),
    (SourceOptions(customer_id="mask"), "customer_id"),
    (SourceOptions(agent_legs=("agent", "in")), "agent_legs"),
])
def test_bad_options_are_bad_config_naming_the_option(tmp_path, options, named):
    with pytest.raises(SpeechQAError) as info:
        discover(tmp_path, options=options)
    assert info.value.error_type == "bad_config" and named in str(info.value)


# --- reading and identity ------------------------------------------------------------------------


def test_read_call_of_two_legs_at_different_rates(tmp_path):
    write(tmp_path / "x_agent.wav", sr=16000, seconds=1.0, freq_hz=500.0)
    write(tmp_path / "x_caller.wav", sr=8000, seconds=1.5, freq_hz=1200.0, subtype="ULAW")
    call = found(tmp_path)[0]["x_agent.wav"]
    rec = read_call(call, max_duration_s=60)
    assert rec.channels == 2 and rec.samples.shape == (2, 12000) and rec.sample_rate_hz == 8000
    assert rec.source_sample_rate_hz == 8000 and rec.duration_s == pytest.approx(1.5)
    assert rec.path == str(tmp_path / "x_agent.wav") and not rec.truncated
    assert rec.source_format == "two legs: WAV/PCM_16 + WAV/ULAW"
    agent, caller = np.asarray(rec.samples)
    assert abs(peak_hz(agent[:8000], 8000) - 500) < 5 and abs(peak_hz(caller, 8000) - 1200) < 5
    assert np.all(agent[8010:] == 0) and np.abs(agent[:7990]).max() > 0.4    # padded at the end


def test_read_call_of_one_file_is_read_audio(tmp_path):
    write(tmp_path / "mono.wav", sr=16000, seconds=0.5)
    rec = read_call(found(tmp_path)[0]["mono.wav"], max_duration_s=60)
    assert rec.channels == 1 and rec.sample_rate_hz == 16000 and rec.samples.shape == (1, 8000)


def test_a_dual_mono_stereo_leg_is_taken_as_one_channel(tmp_path):
    agent = write(tmp_path / "agent.wav", channels=2, freq_hz=500.0)
    caller = write(tmp_path / "caller.wav", freq_hz=1200.0)
    rec = read_two_legs(agent, caller, max_duration_s=60)
    assert rec.channels == 2 and abs(peak_hz(np.asarray(rec.samples[0]), 8000) - 500) < 5


def test_a_stereo_leg_with_two_parties_is_refused(tmp_path):
    agent = tmp_path / "agent.wav"
    t = np.arange(4000) / 8000
    sf.write(agent, np.stack([np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 1200 * t)], axis=1) * 0.5, 8000)
    with pytest.raises(SpeechQAError) as info:
        read_two_legs(agent, write(tmp_path / "caller.wav"), max_duration_s=60)
    assert info.value.error_type == "too_many_channels"
    assert "agent leg" in str(info.value) and str(agent) in str(info.value)


def test_an_error_in_a_leg_keeps_its_type_and_names_the_leg(tmp_path):
    empty = tmp_path / "caller.wav"
    empty.write_bytes(b"")
    with pytest.raises(SpeechQAError) as info:
        read_two_legs(write(tmp_path / "agent.wav"), empty, max_duration_s=60)
    assert info.value.error_type == "empty_file"
    assert str(info.value).startswith("caller leg: ") and str(empty) in str(info.value)


def test_call_content_id(tmp_path):
    write(tmp_path / "solo.wav")
    write(tmp_path / "x_agent.wav", freq_hz=500.0)
    write(tmp_path / "x_caller.wav", freq_hz=1200.0)
    calls = found(tmp_path)[0]
    assert call_content_id(calls["solo.wav"]) == content_id(tmp_path / "solo.wav")
    pair = calls["x_agent.wav"]
    swapped = dataclasses.replace(pair, paths=pair.paths[::-1])
    ids = {call_content_id(pair), call_content_id(swapped), *(content_id(p) for p in pair.paths)}
    assert len(ids) == 4 and all(len(i) == 20 for i in ids)
    assert call_content_id(pair) == call_content_id(dataclasses.replace(pair, relpath="moved/x_agent.wav"))


def test_results_are_frozen_and_hashable(tmp_path):
    write(tmp_path / "solo.wav")
    call = found(tmp_path)[0]["solo.wav"]
    assert isinstance(call, CallSource) and hash(call) == hash(dataclasses.replace(call))
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.relpath = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        SourceProblem("a", "missing_leg", "m").message = "x"


def test_an_unsalted_hash_is_warned_about(tmp_path, caplog):
    discover(tmp_path, options=SourceOptions(customer_id="hash"))
    assert "customer_id_salt" in caplog.text


def test_a_dangling_link_is_a_problem_not_a_stop(tmp_path):
    write(tmp_path / "b.wav")
    os.symlink(tmp_path / "missing.wav", tmp_path / "a.wav")
    calls, problems = found(tmp_path)
    assert list(calls) == ["b.wav"] and problems["a.wav"].error_type == "not_found"


def test_a_linked_folder_is_walked_and_a_loop_ends(tmp_path):
    rec, elsewhere = tmp_path / "rec", tmp_path / "disk2" / "2026-11-22"
    write(rec / "a.wav")
    write(elsewhere / "b.wav")
    os.symlink(elsewhere, rec / "today")          # a day folder on another disk
    os.symlink(rec, elsewhere / "back")         # and a link back up: a loop
    calls, problems = found(rec)
    assert list(calls) == ["a.wav", "today/b.wav"] and problems == {}
    ignored = discover(rec, options=SourceOptions()).ignored
    assert [i.relpath for i in ignored] == ["today/back/"] and "already walked" in ignored[0].why


def test_ignored_files_are_told_without_the_customer_id(tmp_path):
    from speechqa.sources import describe_ignored

    write(tmp_path / "x/.20261122-091500_ag1_5550001.wav")
    options = SourceOptions(filename_pattern=r"_(?P<customer_id>\d{7})", customer_id="drop")
    [line] = describe_ignored(discover(tmp_path, options=options).ignored)
    assert line.startswith("ignored 1 hidden file(s) or folder(s)") and "5550001" not in line and "[customer]" in line
