"""Whole-call measurement against known answers: the generated samples' truth files, real calls,
channel swaps, dual mono and crosstalk."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from speechqa.audio import read_audio
from speechqa.config import default_config
from speechqa.errors import SpeechQAError
from speechqa.call import assess, score_recording
from speechqa.names import STAGES
from speechqa.measure import measure_call

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CONFIG = default_config()
NO_ASR = dataclasses.replace(CONFIG, measure=dataclasses.replace(
    CONFIG.measure, asr=dataclasses.replace(CONFIG.measure.asr, enabled=False)))


def measure(path, **measure_changes):
    return measured(read_audio(path), measure=dataclasses.replace(CONFIG.measure, **measure_changes))


def measured(recording, *, measure=CONFIG.measure):
    """The call's Measurement (no transcriber: no words) and what the default [score] derives from it."""
    m = measure_call(recording, measure=measure)
    return m, assess(m, score=CONFIG.score).derived


def recording_with(samples, sample_rate_hz, tmp_path, write_wav, name="call.wav"):
    return read_audio(write_wav(tmp_path / name, samples, sample_rate_hz))


@pytest.fixture(scope="module")
def en_call():
    truth = json.loads((SAMPLES / "call_en_stereo.truth.json").read_text())
    return measure(SAMPLES / "call_en_stereo.wav"), truth


def test_sample_call_timeline_matches_its_script(en_call):
    (m, d), truth = en_call
    for party in ("agent", "caller"):
        planned = [(u["start_s"], u["end_s"]) for u in truth["utterances"] if u["party"] == party]
        found = m.speech[party]
        # Every scripted utterance is found, starting within 0.2 s of its script time
        # (espeak's soft onsets sit below the VAD's gate for a few frames).
        for start, end in planned:
            assert np.min(np.abs(found[:, 0] - start)) < 0.2, (party, start)
        # Talk time leaves out the pauses (>= 0.25 s) inside the scripted utterances.
        talk = sum(e - s for s, e in planned)
        assert 0.8 * talk < d.metrics[f"{party}_talk_s"] <= talk + 0.1


def test_sample_call_events_match_its_script(en_call):
    (m, d), truth = en_call
    events = truth["events"]
    dead_air = events["dead_air"][0]
    assert d.metrics["silence_count"] == 1
    assert d.metrics["silence_max_s"] == pytest.approx(dead_air["end_s"] - dead_air["start_s"], abs=0.15)
    silence = next(e for e in d.events if e.kind == "silence")
    assert silence.start_s == pytest.approx(dead_air["start_s"], abs=0.15)

    backchannel = events["backchannels"][0]
    assert d.metrics["caller_backchannels"] == 1 and d.metrics["agent_backchannels"] == 0
    found = next(e for e in d.events if e.kind == "backchannel")
    assert found.start_s == pytest.approx(backchannel["start_s"], abs=0.1)

    interruption = events["interruptions"][0]
    assert d.metrics["agent_interruptions"] == 1 and d.metrics["caller_interruptions"] == 0
    found = next(e for e in d.events if e.kind == "interruption")
    assert found.party == "agent" and found.start_s == pytest.approx(interruption["onset_s"], abs=0.2)
    assert d.metrics["overtalk_episodes"] == 1


def test_sample_call_levels_roles_and_pitch(en_call):
    (m, d), truth = en_call
    levels = {u["party"]: u["level_dbfs"] for u in truth["utterances"]}
    assert d.metrics["agent_level_dbfs"] == pytest.approx(levels["agent"], abs=0.5)
    assert d.metrics["caller_level_dbfs"] == pytest.approx(levels["caller"], abs=0.5)
    assert d.metrics["level_diff_db"] == pytest.approx(levels["agent"] - levels["caller"], abs=0.5)
    assert (m.roles.agent_channel, m.roles.method) == ("left", "first_speaker")
    # The agent is a male voice, the caller a female one (espeak-ng en-us and en-us+f5).
    assert d.metrics["caller_f0_median_hz"] > 1.5 * d.metrics["agent_f0_median_hz"]
    assert m.quality.narrowband and not m.quality.dual_mono and not m.quality.crosstalk


def test_gain_offset_moves_the_level_match():
    m, d = measure(SAMPLES / "call_en_stereo.wav", gain_offset_right_db=6.0)
    assert d.metrics["level_diff_db"] == pytest.approx(0.0, abs=0.5)


def test_mono_call_is_split_into_its_two_voices():
    truth = json.loads((SAMPLES / "call_ru_mono.truth.json").read_text())
    m, d = measure(SAMPLES / "call_ru_mono.wav")
    assert m.mono and m.diarized and m.roles.method == "diarized" and m.roles.agent_channel is None
    assert m.quality.speakers == 2 and m.quality.diarization_confidence > 0.5
    for party in ("agent", "caller"):
        said = sum(u["end_s"] - u["start_s"] for u in truth["utterances"] if u["party"] == party)
        assert d.metrics[f"{party}_talk_s"] == pytest.approx(said, rel=0.15), party
    assert d.metrics["overtalk_s"] is None and "cannot be told apart" in d.unmeasured["overtalk_s"]


def test_mono_call_with_diarization_off_measures_the_whole_call_only():
    off = dataclasses.replace(CONFIG.measure.diarize, enabled=False)
    m, d = measure(SAMPLES / "call_ru_mono.wav", diarize=off)
    assert m.roles.method == "mono" and m.roles.agent_channel is None and m.quality.speakers is None
    assert d.metrics["speech_s"] > 10 and d.metrics["silence_count"] is not None
    assert d.metrics["agent_talk_s"] is None and "diarization is off" in d.unmeasured["agent_talk_s"]


def test_roles_of_a_real_call_follow_its_channels(fixtures_dir, tmp_path, write_wav):
    path = fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav"
    rec = read_audio(path)
    m, d = measured(rec)
    assert m.roles.agent_channel == "left"
    # Separately recorded legs: no crosstalk, and chance likeness of a few frames is not one.
    assert not m.quality.crosstalk and not m.quality.dual_mono
    swapped = recording_with(np.asarray(rec.samples)[::-1], rec.sample_rate_hz, tmp_path, write_wav)
    m, d = measured(swapped)
    assert m.roles.agent_channel == "right" and m.roles.method == "first_speaker"


def test_dual_mono_file_is_treated_as_mono(fixtures_dir):
    m, d = measure(fixtures_dir / "asr" / "jfk_dualmono.flac")
    assert m.quality.dual_mono and m.quality.channel_correlation > 0.95
    assert m.roles.method == "mono" and d.metrics["agent_talk_s"] is None   # one voice, 11 s: not split
    assert m.quality.speakers == 1 and "one voice" in d.unmeasured["agent_talk_s"]
    assert d.metrics["speech_s"] > 5


def test_crosstalk_is_flagged_and_not_counted_as_speech(tmp_path, write_wav):
    rec = read_audio(SAMPLES / "call_en_stereo.wav")
    _, clean = measured(rec)
    sr, samples = rec.sample_rate_hz, np.asarray(rec.samples)
    leak = np.zeros_like(samples[0])
    delay = int(0.04 * sr)
    leak[delay:] = 0.2 * samples[0, :-delay]   # the agent leaks into the caller's line at -14 dB
    leaky = recording_with(np.stack([samples[0], samples[1] + leak]), sr, tmp_path, write_wav)
    m, d = measured(leaky)
    assert m.quality.crosstalk and m.quality.crosstalk_s > 5
    assert d.metrics["caller_talk_s"] == pytest.approx(clean.metrics["caller_talk_s"], abs=1.5)
    assert d.metrics["agent_talk_s"] == pytest.approx(clean.metrics["agent_talk_s"], abs=0.5)


def test_music_like_tones_are_no_speech(tmp_path, write_wav):
    sr = 8000
    t = np.arange(10 * sr) / sr
    tones = 0.1 * np.sin(2 * np.pi * 425 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)   # ringback
    with pytest.raises(SpeechQAError) as info:
        measure_call(recording_with(np.stack([tones, tones * 0.5]), sr, tmp_path, write_wav), measure=CONFIG.measure)
    assert info.value.error_type == "no_speech"


def test_one_party_only_is_a_call(tmp_path, write_wav):
    rec = read_audio(SAMPLES / "call_en_stereo.wav")
    silent_caller = np.stack([np.asarray(rec.samples[0]), np.zeros(rec.samples.shape[1], np.float32)])
    m, d = measured(recording_with(silent_caller, rec.sample_rate_hz, tmp_path, write_wav))
    assert d.metrics["agent_talk_s"] > 15 and d.metrics["caller_talk_s"] == 0
    assert d.metrics["caller_level_dbfs"] is None and d.metrics["level_diff_db"] is None


def test_stage_hook_hears_every_stage():
    stages = {}
    score_recording(read_audio(SAMPLES / "call_en_stereo.wav"), call_id="x", config=NO_ASR,
                    hook=lambda name, seconds: stages.__setitem__(name, stages.get(name, 0) + seconds))
    assert set(stages) == {"quality", "vad", "crosstalk", "loudness", "pitch", "timeline", "score"} and set(stages) <= set(STAGES)


def test_an_outbound_call_makes_the_second_speaker_the_agent():
    """Without words to go by, the direction in a call's metadata decides: on an outbound call the
    agent dialled, and the called party answers first."""
    rec = read_audio(SAMPLES / "call_en_stereo.wav")
    m = measure_call(rec, measure=CONFIG.measure, direction="Outbound")
    assert (m.roles.agent_channel, m.roles.method) == ("right", "direction") and "answers first" in m.roles.evidence
    m = measure_call(rec, measure=CONFIG.measure, direction="inbound")
    assert (m.roles.agent_channel, m.roles.method) == ("left", "first_speaker")
