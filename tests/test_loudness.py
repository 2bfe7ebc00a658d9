"""Known-answer tests for speechqa.features.loudness (P.56, BS.1770-4) and .noise_floor."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from speechqa.features import loudness, noise_floor
from speechqa.features.loudness import (
    ActiveLevel,
    active_speech_level,
    integrated_loudness,
    level_dbfs,
)
from speechqa.features.noise_floor import DIGITAL_SILENCE_DBFS, noise_floor_dbfs, noise_floor_of_levels

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def speech_like(rng, fs, n_phrases, level_dbfs_value, *, pause_scale=1.0):
    """Phrases of syllable-shaped noise bursts separated by silent pauses.

    Phrase lengths are 1.5-3 s; the pauses are the same lengths shuffled (times `pause_scale`), so
    the signal is exactly half silence when pause_scale=1. The RMS over the phrase spans (bursts and
    the short gaps between them) is `level_dbfs_value`. Returns (float32 signal, phrase segments).
    """
    phrases = rng.uniform(1.5, 3.0, n_phrases)
    pauses = rng.permutation(phrases) * pause_scale
    parts, segments, t = [], [], 0
    for phrase_s, pause_s in zip(phrases, pauses):
        n_pause = int(round(pause_s * fs))
        parts.append(np.zeros(n_pause))
        t += n_pause
        n = int(round(phrase_s * fs))
        phrase = np.zeros(n)
        i = 0
        while True:
            length = int(rng.uniform(0.12, 0.25) * fs)
            if i + length > n:
                break
            phrase[i : i + length] = rng.standard_normal(length) * np.hanning(length) * rng.uniform(0.5, 1.0)
            i += length + int(rng.uniform(0.03, 0.08) * fs)
        parts.append(phrase)
        segments.append((t / fs, (t + n) / fs))
        t += n
    x = np.concatenate(parts)
    segments = np.array(segments)
    inside = np.concatenate([x[int(round(a * fs)) : int(round(b * fs))] for a, b in segments])
    x *= 10 ** (level_dbfs_value / 20) / np.sqrt(np.mean(inside**2))
    return x.astype(np.float32), segments


def sine(freq_hz, fs, seconds, amplitude=1.0):
    t = np.arange(int(seconds * fs)) / fs
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


# --------------------------------------------------------------------------- BS.1770-4


@pytest.mark.parametrize(
    ("name", "expected_lufs"),
    [("tests_data_1770-2_Comp_RelGateTest.wav", -10.0), ("tests_data_1770-2_Comp_AbsGateTest.wav", -69.5)],
)
def test_bs1770_compliance_files(name, expected_lufs):
    path = FIXTURES / "loudness" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared fixtures not checked out next to the project)")
    import soundfile as sf

    x, fs = sf.read(path, dtype="float32", always_2d=True)
    measured = integrated_loudness(x.T, fs)
    print(f"\n{name}: {measured:.3f} LUFS (expected {expected_lufs})")
    assert measured == pytest.approx(expected_lufs, abs=0.1)


def test_full_scale_sine_reads_minus_3_01_lufs():
    assert integrated_loudness(sine(1000, 48000, 5), 48000) == pytest.approx(-3.01, abs=0.1)
    # The same tone in L and R sums the two channels (weights 1.0): +3.01 LU.
    stereo = np.stack([sine(1000, 48000, 5), sine(1000, 48000, 5)])
    assert integrated_loudness(stereo, 48000) == pytest.approx(-3.01 + 3.01, abs=0.1)


@pytest.mark.parametrize("freq_hz", [100, 1000, 2000, 3000])
def test_k_weighting_agrees_across_sample_rates(freq_hz):
    reference = integrated_loudness(sine(freq_hz, 48000, 3, 0.5), 48000)
    for fs in (8000, 16000, 44100):
        measured = integrated_loudness(sine(freq_hz, fs, 3, 0.5), fs)
        # A bilinear-transform shelf (pyloudnorm, libebur128) reads 1 kHz 0.20 dB low at 8 kHz.
        assert measured == pytest.approx(reference, abs=0.1), (fs, freq_hz, measured, reference)


def test_gates_drop_silence_and_quiet_parts():
    fs = 8000
    tone = sine(1000, fs, 4, 0.5)
    reference = integrated_loudness(tone, fs)
    # Silence (absolute gate) and a part 30 dB down (relative gate) are left out; only the blocks
    # straddling the edges of the tone lower the result a little. Ungated it would read 4.8 dB low.
    padded = np.concatenate([np.zeros(fs * 4, np.float32), tone, 0.03 * tone])
    assert integrated_loudness(padded, fs) == pytest.approx(reference, abs=0.5)
    # With the tone alone above -70 LUFS, only the absolute gate acts: silence costs nothing.
    padded = np.concatenate([np.zeros(fs * 4, np.float32), tone, np.zeros(fs * 4, np.float32)])
    assert integrated_loudness(padded, fs) == pytest.approx(reference, abs=0.5)
    assert integrated_loudness(np.concatenate([tone, 0.03 * tone]), fs) == pytest.approx(reference, abs=0.3)


def test_loudness_over_segments_only(rng):
    fs = 8000
    x, segments = speech_like(rng, fs, 10, -26.0)
    clean = integrated_loudness(x, fs)
    noisy = x + (rng.standard_normal(x.size) * 0.3).astype(np.float32) * _outside_mask(x.size, segments, fs)
    assert integrated_loudness(noisy, fs) > clean + 5
    assert integrated_loudness(noisy, fs, segments=segments) == pytest.approx(clean, abs=0.5)
    # Segments shorter than min_segment_s count for nothing.
    assert integrated_loudness(x, fs, segments=segments, min_segment_s=3.5) is None


def _outside_mask(n, segments, fs):
    mask = np.ones(n, np.float32)
    for a, b in segments:
        mask[int(round(a * fs)) : int(round(b * fs))] = 0
    return mask


# --------------------------------------------------------------------------- P.56


def test_p56_half_silence_reads_active_part(rng):
    for fs in (8000, 16000):
        x, _ = speech_like(rng, fs, 12, -26.0)
        result = active_speech_level(x, fs)
        rms = level_dbfs(x)
        print(f"\n{fs} Hz: active {result.level_dbfs:.2f} dBFS, activity {result.activity:.3f}, RMS {rms:.2f}")
        assert result.level_dbfs == pytest.approx(-26.0, abs=0.5)
        assert result.level_dbfs - rms == pytest.approx(3.0, abs=0.5)
        assert result.activity == pytest.approx(0.5, abs=0.05)
        assert result.active_s == pytest.approx(result.activity * x.size / fs)


def test_p56_constant_level_equals_rms(rng):
    fs = 8000
    noise = (rng.standard_normal(fs * 20) * 0.1).astype(np.float32)
    tone = sine(440, fs, 10, 0.3)
    for x in (noise, tone):
        result = active_speech_level(x, fs)
        assert result.level_dbfs == pytest.approx(level_dbfs(x), abs=0.2)
        assert result.activity > 0.99


def test_p56_two_channels_difference(rng):
    fs = 8000
    agent, _ = speech_like(rng, fs, 10, -20.0)
    caller, _ = speech_like(rng, fs, 10, -26.0, pause_scale=1.7)
    difference = active_speech_level(agent, fs).level_dbfs - active_speech_level(caller, fs).level_dbfs
    assert difference == pytest.approx(6.0, abs=0.5)


def test_p56_segments_only(rng):
    fs = 8000
    x, segments = speech_like(rng, fs, 10, -26.0)
    clean = active_speech_level(x, fs)
    noisy = x + (rng.standard_normal(x.size) * 0.5).astype(np.float32) * _outside_mask(x.size, segments, fs)
    assert active_speech_level(noisy, fs).level_dbfs > -15
    inside = active_speech_level(noisy, fs, segments=segments)
    assert inside.level_dbfs == pytest.approx(-26.0, abs=0.5)
    assert inside.level_dbfs == pytest.approx(clean.level_dbfs, abs=0.3)
    assert inside.active_s <= np.sum(segments[:, 1] - segments[:, 0]) + 1e-9


def _sv56_reference(x, fs, time_constant_s=0.03, hangover_s=0.2, margin_db=15.9):
    """sv56's sample loop written out literally (thresholds as in loudness), for cross-checking."""
    exponents = loudness._P56_EXPONENTS[::-1]  # lowest threshold first
    c = 2.0 ** exponents.astype(float)
    g = math.exp(-1 / (fs * time_constant_s))
    hang_max = int(math.floor(hangover_s * fs + 0.5))
    a = np.zeros(c.size)
    hang = np.full(c.size, hang_max)
    p = q = 0.0
    for sample in x.astype(np.float64):
        p = g * p + (1 - g) * abs(sample)
        q = g * q + (1 - g) * p
        above = q >= c
        held = ~above & (hang < hang_max)
        a += above | held
        hang = np.where(above, 0, np.where(held, hang + 1, hang))
    sq = float(np.sum(x.astype(np.float64) ** 2))
    with np.errstate(divide="ignore"):
        active_db = 10 * np.log10(sq / a)
    delta = active_db - 20 * np.log10(c)
    for j in range(1, c.size):
        if a[j] > 0 and delta[j] <= margin_db:
            t = (delta[j - 1] - margin_db) / (delta[j - 1] - delta[j])
            return active_db[j - 1] + t * (active_db[j] - active_db[j - 1])
    return None


def test_p56_matches_literal_sv56_loop(rng):
    fs = 8000
    x, _ = speech_like(rng, fs, 2, -30.0)
    expected = _sv56_reference(x, fs)
    assert active_speech_level(x, fs).level_dbfs == pytest.approx(expected, abs=1e-6)


def test_chunk_boundaries_do_not_change_results(rng, monkeypatch):
    fs = 8000
    x, segments = speech_like(rng, fs, 6, -26.0)
    x = x + (rng.standard_normal(x.size) * 1e-3).astype(np.float32)

    def everything():
        return (
            active_speech_level(x, fs),
            active_speech_level(x, fs, segments=segments),
            integrated_loudness(x, fs),
            integrated_loudness(x, fs, segments=segments),
            noise_floor_dbfs(x, fs),
            level_dbfs(x),
        )

    whole = everything()
    monkeypatch.setattr(loudness, "_CHUNK_SAMPLES", 3001)
    monkeypatch.setattr(noise_floor, "_BLOCK_SAMPLES", 3001)
    chunked = everything()
    for a, b in zip(whole, chunked):
        if isinstance(a, ActiveLevel):
            assert b.level_dbfs == pytest.approx(a.level_dbfs, abs=1e-9)
            assert b.activity == pytest.approx(a.activity, abs=1e-12)
        else:
            assert b == pytest.approx(a, abs=1e-9)


# --------------------------------------------------------------------------- noise floor


def test_noise_floor_under_speech(rng):
    fs = 8000
    x, _ = speech_like(rng, fs, 10, -20.0)
    x = x + (rng.standard_normal(x.size) * 10 ** (-60 / 20)).astype(np.float32)
    floor = noise_floor_dbfs(x, fs)
    print(f"\nnoise floor {floor:.2f} dBFS (white noise at -60)")
    assert floor == pytest.approx(-60.0, abs=3.0)
    # A leg muted for a twentieth of the call: that is time the party is silent, not a level of the
    # line, so the floor moves a little, and only down.
    x[: x.size // 20] = 0
    assert floor - 1.0 <= noise_floor_dbfs(x, fs) <= floor
    # Muted for a third: digital silence fills the quietest tenth, and the floor is None, neither
    # -100 dBFS nor the quietest of what is left (which, on a leg the recorder opens only for
    # speech, is quiet speech).
    x[: x.size // 3] = 0
    assert noise_floor_dbfs(x, fs) is None


def test_noise_floor_of_levels_where_digital_silence_ends():
    # Percentile 10 of 100 frames starts from the 10th quietest (index 9, numpy's "lower").
    line = [-60.0] * 91
    assert noise_floor_of_levels([DIGITAL_SILENCE_DBFS] * 9 + line) == -60.0
    assert noise_floor_of_levels([DIGITAL_SILENCE_DBFS] * 10 + line[1:]) is None
    assert noise_floor_of_levels(np.linspace(-70.0, -20.0, 101)) == pytest.approx(-65.0)
    assert noise_floor_of_levels(np.zeros(0)) is None


def test_noise_floor_of_zeros_is_none():
    assert noise_floor_dbfs(np.zeros(8000, np.float32), 8000) is None


# --------------------------------------------------------------------------- edge cases


def test_empty_and_all_zero():
    empty = np.zeros(0, np.float32)
    zeros = np.zeros(8000 * 2, np.float32)
    for x in (empty, zeros):
        assert active_speech_level(x, 8000) == ActiveLevel(level_dbfs=None, activity=0.0, active_s=0.0)
        assert integrated_loudness(x, 8000) is None
        assert noise_floor_dbfs(x, 8000) is None
        assert level_dbfs(x) is None
    assert active_speech_level(zeros, 8000, segments=np.zeros((0, 2))).level_dbfs is None


def test_shorter_than_one_block():
    tone = sine(1000, 8000, 0.399)
    assert integrated_loudness(tone, 8000) is None
    assert integrated_loudness(sine(1000, 8000, 0.4), 8000) is not None
    assert active_speech_level(tone, 8000).level_dbfs is not None


def test_level_dbfs_convention():
    assert level_dbfs(sine(1000, 8000, 1)) == pytest.approx(-3.0103, abs=1e-3)
    assert level_dbfs(np.full(100, 0.1, np.float32)) == pytest.approx(-20.0, abs=1e-4)


@pytest.mark.parametrize(
    ("call", "fix"),
    [
        (lambda x: active_speech_level(x, 0), "sample_rate_hz"),
        (lambda x: active_speech_level(x, 8000, time_constant_s=-1), "time_constant_s=0.03"),
        (lambda x: active_speech_level(x, 8000, hangover_s=float("nan")), "hangover_s=0.2"),
        (lambda x: active_speech_level(x, 8000, margin_db=0), "margin_db=15.9"),
        (lambda x: active_speech_level(np.stack([x, x]), 8000), "signal[0]"),
        (lambda x: active_speech_level((x * 32767).astype(np.int16), 8000), "/ 32768"),
        (lambda x: active_speech_level(x, 8000, segments=[[2.0, 1.0]]), "ends before it starts"),
        (lambda x: active_speech_level(x, 8000, segments=[[1.0, 2.0], [0.5, 0.7]]), "sort them"),
        (lambda x: active_speech_level(x, 8000, segments=[1.0, 2.0]), "(n, 2)"),
        (lambda x: active_speech_level(x, 8000, segments=[[50.0, 51.0]]), "this signal and sample_rate_hz"),
        (lambda x: integrated_loudness(x, 8000, min_segment_s=0.2), "min_segment_s >= 0.4"),
        (lambda x: integrated_loudness(x, 4000), "resample to 8000 Hz"),
        (lambda x: integrated_loudness(np.stack([x, x]).T, 8000), "signal.T"),
        (lambda x: integrated_loudness(np.where(x > 0.4, np.nan, x), 8000), "NaN"),
        (lambda x: noise_floor_dbfs(x, 8000, frame_s=0), "frame_s=0.032"),
        (lambda x: noise_floor_dbfs(x, 8000, frame_s=1e-5), "at least"),
        (lambda x: noise_floor_dbfs(x, 8000, percentile=150), "0 to 100"),
        (lambda x: level_dbfs(x.astype(np.complex64)), "float array"),
    ],
)
def test_bad_parameters_raise_with_a_fix(call, fix):
    x = sine(440, 8000, 2, 0.5)
    with pytest.raises(ValueError) as info:
        call(x)
    assert fix in str(info.value)


# --------------------------------------------------------------------------- speed and memory


def test_real_call_levels():
    # Speed is measured in benchmarks/, not here.
    path = FIXTURES / "calls" / "lca49_agent-left_caller-right_8k.wav"
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared fixtures not checked out next to the project)")
    import soundfile as sf

    x, fs = sf.read(path, dtype="float32", always_2d=True)
    for channel in (x[:, 0].copy(), x[:, 1].copy()):
        p56 = active_speech_level(channel, fs)
        lufs = integrated_loudness(channel, fs)
        floor = noise_floor_dbfs(channel, fs)
        assert -40 < p56.level_dbfs < -5
        assert abs(lufs - p56.level_dbfs) < 3   # K-weighted loudness tracks the speech level
        assert floor < p56.level_dbfs - 20
        assert p56.level_dbfs > level_dbfs(channel)   # pauses pull plain RMS down


def test_long_input_runs_in_bounded_memory():
    fs = 16000
    block = (np.random.default_rng(1).standard_normal(fs * 60) * 0.05).astype(np.float32)
    x = np.tile(block, 30)  # 30 min at 16 kHz: 115 MB as float32, 230 MB as one float64 copy
    for fn in (
        lambda: active_speech_level(x, fs),
        lambda: integrated_loudness(x, fs),
        lambda: noise_floor_dbfs(x, fs),
        lambda: level_dbfs(x),
    ):
        tracemalloc.start()
        try:
            fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 0.5 * x.nbytes, f"peak {peak / 1e6:.0f} MB for a {x.nbytes / 1e6:.0f} MB signal"
