"""Voice and tone (issue 14): arousal per turn and emphasis per word, with known answers.

Synthetic answers are made by code: espeak-ng speech, a turn or a word raised with numpy gain and
a pitch shift by resampling (playing a stretch 2^(3/12) faster raises its F0 by 3 semitones and
shortens it by the same factor), or espeak-ng's own pitch and speed settings for one word. Real
speech: lca49 (a real call, role-played) and the ARCTIC sentence with hand-labelled phone times.
Nobody listened to these recordings for these tests: the real-speech answers are the changes
made to them by code, and the figures of the unchanged recordings as measured (README, Metrics).
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from speechqa.audio import Recording, read_audio
from speechqa.call import assess
from speechqa.config import default_config
from speechqa.features.arousal import robust_rise, turn_arousal
from speechqa.features.emphasis import prominence, word_acoustics
from speechqa.features.pitch import track_pitch
from speechqa.measure import measure_call
from speechqa.options import ArousalOptions, EmphasisOptions
from speechqa.transcript import Utterance, Word
from speechqa.voice import arousal_metrics, emphasis_metrics, utterance_prominence

DEFAULT = default_config()
NO_ASR = dataclasses.replace(DEFAULT.measure, asr=dataclasses.replace(DEFAULT.measure.asr, enabled=False))
SR = 8000
SEMITONES = 3.0
GAIN_DB = 8.0


def raise_stretch(x: np.ndarray, sr: int, *, gain_db: float, semitones: float) -> np.ndarray:
    """x louder by gain_db and higher by `semitones` (resampled, so also shorter by that factor),
    clipped to full scale."""
    ratio = 2.0 ** (semitones / 12.0)
    y = soxr.resample(x.astype(np.float64), sr, sr / ratio) if semitones else x.astype(np.float64)
    return np.clip(y * 10.0 ** (gain_db / 20.0), -1.0, 1.0)


def sox_emphasise(x: np.ndarray, sr: int, *, semitones: float, stretch: float, gain_db: float) -> np.ndarray:
    """x higher by `semitones`, `stretch` times longer at the same pitch and louder by gain_db:
    sox's pitch and tempo effects (WSOLA, pitch kept), then numpy gain."""
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (apt-get install sox)")
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="FLOAT")
    out = subprocess.run(["sox", "-t", "wav", "-", "-t", "wav", "-e", "floating-point", "-", "pitch", f"{100 * semitones:.0f}",
                          "tempo", "-s", f"{1 / stretch:.4f}"], input=buf.getvalue(), capture_output=True, check=True).stdout
    y, _ = sf.read(io.BytesIO(out), dtype="float64")
    return np.clip(y * 10.0 ** (gain_db / 20.0), -1.0, 1.0)


def espeak(text: str, *, voice: str = "en-us", wpm: int = 160, pitch: int = 50) -> np.ndarray:
    """espeak-ng's speech at 8 kHz, silence trimmed, at about -20 dBFS."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout", text],
                         capture_output=True, check=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float64")
    x = soxr.resample(x, sr, SR)
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
    x = x[loud[0]:loud[-1] + 1]
    return x * 0.1 / np.sqrt(np.mean(x ** 2))


# --- arousal: arrays ---------------------------------------------------------------------------

def test_robust_rise_is_median_and_mad_with_a_floor():
    rise, z = robust_rise(np.array([0.0, 1.0, 2.0, 3.0, 100.0]), spread_min=0.1, min_values=3)
    assert rise[2] == 0.0 and z[4] == pytest.approx(98.0 / 1.4826)   # median 2, MAD 1: the outlier does not move them
    _, z = robust_rise(np.zeros(6) + [0, 0, 0, 0, 0, 3.0], spread_min=2.0, min_values=3)
    assert z[-1] == pytest.approx(1.5)   # MAD 0: the floor is the spread
    assert np.isnan(robust_rise(np.array([1.0, np.nan, 2.0]), spread_min=1, min_values=3)[1]).all()


def test_a_turn_up_8_db_and_3_semitones_is_raised_and_one_cue_alone_is_not():
    rng = np.random.default_rng(14)
    level = -20 + rng.normal(0, 1.0, 12)
    f0 = 120 * 2 ** (rng.normal(0, 0.8, 12) / 12)
    level[5] += GAIN_DB
    f0[5] *= 2 ** (SEMITONES / 12)
    level[8] += GAIN_DB                  # louder only: a handset moved closer
    f0[2] *= 2 ** (6 / 12)               # higher only: a question
    found = turn_arousal(level, f0, [np.nan] * 12)   # no ASR: two cues, both must be up
    assert found.assessed.all() and list(np.flatnonzero(found.raised)) == [5]
    assert found.level_rise_db[5] == pytest.approx(GAIN_DB, abs=2.0)
    # with a rate cue too, two of three are enough: level and rate up, F0 not
    rate = 5 * np.exp(rng.normal(0, 0.05, 12))
    rate[8] *= 1.4
    assert set(np.flatnonzero(turn_arousal(level, f0, rate).raised)) == {5, 8}


def test_arousal_needs_a_baseline_and_two_measured_cues():
    found = turn_arousal([-20, -20, -12], [100, 100, 130], [None] * 3)   # 3 turns < min_turns 5
    assert not found.assessed.any() and not found.raised.any()
    found = turn_arousal([-20.0] * 6, [None] * 6, [5.0] * 6)
    assert found.assessed.all()   # level and rate
    assert not turn_arousal([-20.0] * 6, [None] * 6, [None] * 6).assessed.any()   # one cue only
    with pytest.raises(ValueError, match="one per turn"):
        turn_arousal([1.0], [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="min_cues"):
        ArousalOptions(min_cues=4)


# --- arousal: a whole call ---------------------------------------------------------------------

SENTENCES = [
    "Thank you for calling, how can I help you today?", "Hello, my internet has stopped working since the morning.",
    "I am sorry to hear that, let me check your line.", "It keeps dropping every few minutes, it is really annoying.",
    "I can see some errors on the connection right now.", "So what are you going to do about it then?",
    "I will reset the port from here, it takes a minute.", "All right, I will wait, go ahead please.",
    "The port is reset, could you restart your router now?", "Okay, it is restarting, the lights are blinking.",
    "Good, the connection looks stable from my side.", "Yes, it seems to work again, the pages load.",
    "Is there anything else I can help you with today?", "No, that is all, thank you very much for the help.",
]
RAISED_TURN = 6   # the agent's fourth turn


def synthetic_call(*, raised: int | None) -> tuple[Recording, list[tuple[float, float]]]:
    """Agent (left, male) and caller (right, female) taking turns, 0.6 s apart; the sentence
    `raised` up by 8 dB and 3 semitones. Returns the call and each sentence's (start_s, end_s)."""
    pieces, times, t = [], [], 0.5
    for k, text in enumerate(SENTENCES):
        x = espeak(text, voice="en-us" if k % 2 == 0 else "en-us+f3")
        if k == raised:
            x = raise_stretch(x, SR, gain_db=GAIN_DB, semitones=SEMITONES)
        pieces.append((k % 2, int(t * SR), x))
        times.append((t, t + len(x) / SR))
        t += len(x) / SR + 0.6
    samples = np.zeros((2, int((t + 0.5) * SR)))
    rng = np.random.default_rng(0)
    samples += rng.normal(0, 10 ** (-60 / 20), samples.shape)   # a line's noise floor
    for ch, start, x in pieces:
        samples[ch, start:start + len(x)] += x
    rec = Recording(path="synthetic.wav", samples=samples.astype(np.float32), sample_rate_hz=SR,
                    source_sample_rate_hz=SR, channels=2, duration_s=samples.shape[1] / SR, source_format="WAV/PCM_16",
                    truncated=False)
    return rec, times


def raised_turns(measurement, party: str = "agent") -> list[tuple[float, float]]:
    derived = assess(measurement, score=DEFAULT.score).derived
    return derived.evidence[f"{party}_raised_turns"], derived.metrics


def test_a_synthetic_call_reads_the_raised_turn_and_only_it():
    rec, times = synthetic_call(raised=RAISED_TURN)
    m = measure_call(rec, measure=dataclasses.replace(NO_ASR, agent="left"))
    found, metrics = raised_turns(m)
    assert metrics["agent_arousal_turns"] == 7 and metrics["agent_raised_turns"] == 1
    (start, end), = found
    want = times[RAISED_TURN]
    assert abs(start - want[0]) < 0.3 and abs(end - want[1]) < 0.3
    share = (want[1] - want[0]) / sum(b - a for k, (a, b) in enumerate(times) if k % 2 == 0)
    assert metrics["agent_raised_share"] == pytest.approx(share, abs=0.03)
    assert metrics["caller_raised_turns"] == 0
    calm, _ = raised_turns(measure_call(synthetic_call(raised=None)[0], measure=dataclasses.replace(NO_ASR, agent="left")))
    assert calm == []


def test_the_agent_raised_answering_a_raised_caller_is_measured():
    rec, times = synthetic_call(raised=None)
    # raise caller sentence 5 and the agent's answer, sentence 6
    samples = np.asarray(rec.samples, dtype=np.float64).copy()
    for k, ch in ((5, 1), (6, 0)):
        a, b = (int(round(v * SR)) for v in times[k])
        y = raise_stretch(samples[ch, a:b], SR, gain_db=GAIN_DB, semitones=SEMITONES)
        samples[ch, a:b] = 0.0
        samples[ch, a:a + len(y)] = y
    m = measure_call(dataclasses.replace(rec, samples=samples.astype(np.float32)), measure=dataclasses.replace(NO_ASR, agent="left"))
    derived = assess(m, score=DEFAULT.score).derived
    assert derived.metrics["caller_raised_turns"] == 1 and derived.metrics["agent_answers_to_raised"] == 1
    assert derived.metrics["agent_raised_share_answering_raised"] == 1.0
    assert "agent raised too" in derived.notes["agent_raised_share_answering_raised"]
    verdict = {v.id: v for v in assess(m, score=DEFAULT.score).verdicts}["calm_when_caller_raised"]
    assert verdict.verdict == "fail" and verdict.evidence[0][0] == pytest.approx(times[5][0], abs=0.3)


def test_a_call_with_no_raised_caller_abstains_on_answering_with_the_reason():
    turns = ()
    result = arousal_metrics(turns, {"agent": np.zeros((0, 2)), "caller": np.zeros((0, 2))}, options=ArousalOptions())
    assert result.metrics["agent_raised_share_answering_raised"] is None
    assert "no raised turn" in result.reasons["agent_raised_share_answering_raised"]


# --- arousal: real speech ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def lca49(fixtures_dir):
    return read_audio(fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav", max_duration_s=600)


def test_lca49_reads_calm_and_an_agent_turn_raised_by_code_reads_raised(lca49):
    measure = dataclasses.replace(NO_ASR, agent="left")
    calm = measure_call(lca49, measure=measure)
    found, metrics = raised_turns(calm)
    # measured: a calm role-played call, 16 agent and 14 caller turns assessed (no ASR), none raised
    assert (metrics["agent_arousal_turns"], metrics["caller_arousal_turns"]) == (16, 14)
    assert found == [] and metrics["agent_raised_turns"] == metrics["caller_raised_turns"] == 0
    turn = next(t for t in calm.turns if t.party == "agent" and 64 < t.start_s < 65)   # 64.7-75.1 s
    a, b = int(turn.start_s * SR), int(turn.end_s * SR)
    samples = np.asarray(lca49.samples, dtype=np.float64).copy()
    y = raise_stretch(samples[0, a:b], SR, gain_db=GAIN_DB, semitones=SEMITONES)
    samples[0, a:b] = 0.0
    samples[0, a:a + len(y)] = y
    raised = measure_call(dataclasses.replace(lca49, samples=samples.astype(np.float32)), measure=measure)
    found, metrics = raised_turns(raised)
    assert metrics["agent_raised_turns"] == 1 and abs(found[0][0] - turn.start_s) < 0.5


# --- emphasis: arrays --------------------------------------------------------------------------

def test_a_word_higher_louder_and_longer_than_its_neighbours_is_prominent():
    rng = np.random.default_rng(3)
    f0 = 120 * 2 ** (rng.normal(0, 0.5, 9) / 12)
    level = -20 + rng.normal(0, 1.0, 9)
    duration = 0.25 * np.exp(rng.normal(0, 0.1, 9))
    f0[4] *= 2 ** (3 / 12)
    duration[4] *= 1.6
    level[7] += 5.0                      # louder only
    found = prominence(f0, level, duration, [1] * 9)
    assert found.assessed.all() and list(np.flatnonzero(found.prominent)) == [4]
    assert found.f0_rise_st[4] == pytest.approx(3.0, abs=1.0) and found.duration_ratio[4] == pytest.approx(1.6, rel=0.2)
    # duration per syllable: a two-syllable word of twice the time is not lengthened
    assert not prominence(f0, level, np.r_[duration[:4], 0.5, duration[5:]], [1, 1, 1, 1, 2, 1, 1, 1, 1]).prominent[4]


def test_declination_is_not_emphasis():
    """F0 falling steadily over an utterance (3 semitones over 10 words) makes no word prominent,
    nor does a steady fall in level: each word is compared with its neighbours."""
    st = np.linspace(3, 0, 10)
    found = prominence(100 * 2 ** (st / 12), np.linspace(-15, -21, 10), [0.25] * 10, [1] * 10)
    assert found.assessed.all() and not found.prominent.any()


def test_word_acoustics_measure_peak_f0_and_level():
    sr, f0 = 8000, 150.0
    t = np.arange(int(0.6 * sr)) / sr
    x = (np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t)) * np.where(t < 0.3, 0.05, 0.2)
    found = word_acoustics(x, sr, track_pitch(x, sr), [0.0, 0.3, 0.7], [0.3, 0.6, 0.8])
    assert found.f0_peak_hz[0] == pytest.approx(f0, rel=0.03) and found.f0_peak_hz[1] == pytest.approx(f0, rel=0.03)
    assert found.level_dbfs[1] - found.level_dbfs[0] == pytest.approx(20 * np.log10(4), abs=0.3)
    assert np.isnan(found.f0_peak_hz[2]) and np.isnan(found.level_dbfs[2])   # outside the signal


# --- emphasis: synthetic speech ----------------------------------------------------------------

def spoken_words(texts: list[str], *, target: int | None, gap_s: float = 0.06):
    """Each word spoken alone by espeak-ng, joined with short gaps; the `target` word at a higher
    pitch (-p 80 against 50), slower (110 against 170 wpm) and 4 dB louder. Returns the signal
    and each word's exact (start_s, end_s)."""
    pieces, times, t = [], [], 0.2
    for k, text in enumerate(texts):
        x = espeak(text, wpm=110, pitch=80) * 10 ** (4 / 20) if k == target else espeak(text, wpm=170, pitch=50)
        pieces.append(x)
        times.append((t, t + len(x) / SR))
        t += len(x) / SR + gap_s
    signal = np.zeros(int((t + 0.2) * SR))
    for x, (a, _) in zip(pieces, times):
        signal[int(a * SR):int(a * SR) + len(x)] += x
    return signal, times


def emphasised(signal, times, texts, *, language="en"):
    found = word_acoustics(signal, SR, track_pitch(signal, SR), [a for a, _ in times], [b for _, b in times])
    words = tuple(Word(text, a, b, 1.0, None if np.isnan(f) else float(f), None if np.isnan(lv) else float(lv))
                  for text, (a, b), f, lv in zip(texts, times, found.f0_peak_hz, found.level_dbfs))
    u = Utterance("agent", times[0][0], times[-1][1], " ".join(texts), 0.0, language, words)
    speech = np.array([[times[0][0], times[-1][1]]])
    return utterance_prominence(u, speech, language=language, options=EmphasisOptions())


TEXTS = ["please", "send", "the", "new", "card", "to", "my", "home", "address", "today"]


def test_a_synthetic_word_spoken_higher_slower_and_louder_is_the_prominent_one():
    signal, times = spoken_words(TEXTS, target=4)
    words, p = emphasised(signal, times, TEXTS)
    assert [w.text for w, prominent in zip(words, p.prominent) if prominent] == ["card"]
    signal, times = spoken_words(TEXTS, target=None)
    words, p = emphasised(signal, times, TEXTS)
    assert p.assessed.sum() >= 8 and not p.prominent.any()


# --- emphasis: real speech ---------------------------------------------------------------------

ARCTIC_TEXT = "He turned sharply, and faced Gregson across the table.".split()


def arctic_words(fixtures_dir) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """arctic_a0009 and its words' times from the hand-checked HTS phone labels."""
    folder = fixtures_dir / "timing"
    x, sr = sf.read(folder / "arctic_a0009.wav", dtype="float64")
    spans: dict = {}
    for line in (folder / "arctic_a0009_phone.lab").read_text().splitlines():
        start, end, label = line.split()
        if re.match(r"[^^]*\^[^-]*-(sil|pau)\+", label):
            continue
        key = (re.search(r"/H:[^@]*@([^=]+)=", label).group(1), re.search(r"/E:[^@]*@([^+]+)\+", label).group(1))
        a, b = int(start) * 1e-7, int(end) * 1e-7
        spans[key] = (spans.get(key, (a, b))[0], b)
    return x, sr, list(spans.values())


def test_arctic_a_word_raised_and_lengthened_by_code_becomes_prominent(fixtures_dir):
    x, sr, times = arctic_words(fixtures_dir)
    assert len(times) == len(ARCTIC_TEXT)
    x8 = soxr.resample(x, sr, SR)

    def prominent(signal, times):
        found = word_acoustics(signal, SR, track_pitch(signal, SR), [a for a, _ in times], [b for _, b in times])
        words = tuple(Word(t, a, b, 1.0, None if np.isnan(f) else float(f), None if np.isnan(lv) else float(lv))
                      for t, (a, b), f, lv in zip(ARCTIC_TEXT, times, found.f0_peak_hz, found.level_dbfs))
        u = Utterance("agent", times[0][0], times[-1][1], "", 0.0, "en", words)
        w, p = utterance_prominence(u, np.array([[times[0][0], times[-1][1]]]), language="en", options=EmphasisOptions())
        return [word.text for word, flag in zip(w, p.prominent) if flag]

    # as read (measured): "turned" (+3.8 dB, 2.3 x the neighbours' duration per syllable)
    assert prominent(x8, times) == ["turned"]
    # "faced", as read 1.6 semitones under and 1.4 dB under its neighbours (only its duration, 1.7 x,
    # stands out): made 3 semitones higher, 1.5 x longer and 6 dB louder, it reads prominent
    k = 4
    a, b = (int(round(v * SR)) for v in times[k])
    pad = int(0.1 * SR)   # sox's pitch shift needs context: shift the word with 0.1 s each side, keep the word
    y = sox_emphasise(x8[a - pad:b + pad], SR, semitones=SEMITONES, stretch=1.5, gain_db=6.0)
    y = y[int(1.5 * pad):len(y) - int(1.5 * pad)]
    changed = np.concatenate([x8[:a], y, x8[b:]])
    shift = (len(y) - (b - a)) / SR
    moved = [*times[:k], (times[k][0], times[k][1] + shift), *[(s + shift, e + shift) for s, e in times[k + 1:]]]
    assert "faced" in prominent(changed, moved)


# --- the producers on stored words -------------------------------------------------------------

def test_flat_turns_and_the_rates_per_party():
    """Known words: an agent turn of 12 s whose words are even, and one with a word standing out."""
    from speechqa.timeline import Turn

    def utterance(start, *, loud: int | None):
        words = tuple(Word(f"word{k}", start + 0.5 * k, start + 0.5 * k + 0.3, 1.0, 150.0 * (2 ** (3 / 12) if k == loud else 1),
                           -20.0 + (5.0 if k == loud else 0.0)) for k in range(20))
        return Utterance("agent", start, start + 10.0, "", 0.0, "en", words)

    utterances = (utterance(0.0, loud=None), utterance(20.0, loud=7))
    turns = (Turn("agent", 0.0, 12.0), Turn("agent", 20.0, 32.0))
    speech = {"agent": np.array([[0.0, 12.0], [20.0, 32.0]]), "caller": np.zeros((0, 2))}
    found = emphasis_metrics(utterances, turns, speech, language="en", options=EmphasisOptions())
    m = found.metrics
    assert (m["agent_emphasis_words"], m["agent_prominent_words"], m["agent_emphasis_utterances"]) == (40, 1, 2)
    assert m["agent_prominent_per_min"] == pytest.approx(3.0) and m["agent_emphasis_utterance_share"] == 0.5
    assert (m["agent_long_turns"], m["agent_flat_turn_share"]) == (2, 0.5)
    assert found.evidence["agent_flat_turn_share"] == [(0.0, 12.0)]
    assert found.evidence["agent_prominent_words"] == [(23.5, 23.8)]
    assert m["caller_emphasis_words"] == 0 and m["caller_prominent_per_min"] is None


def test_words_stored_without_acoustics_leave_emphasis_unmeasured_with_the_reason():
    words = tuple(Word(f"w{k}", k * 0.5, k * 0.5 + 0.3, 1.0) for k in range(6))
    found = emphasis_metrics((Utterance("agent", 0.0, 3.0, "", 0.0, "en", words),), (), {"agent": np.zeros((0, 2)),
                             "caller": np.zeros((0, 2))}, language="en", options=EmphasisOptions())
    assert all(v is None for v in found.metrics.values()) and "measure the call again" in found.reasons["agent_prominent_per_min"]
