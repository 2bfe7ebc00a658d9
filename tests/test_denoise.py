"""speechqa.features.denoise: the Wiener gain that cleans what the VAD's network hears.

Known answers on synthetic signals: a gain of one gives the signal back, streaming in any
pieces gives what one piece gives, steady noise goes and a tone well above it stays.
"""

from __future__ import annotations

import numpy as np
import pytest

from speechqa.features.denoise import NoiseReducer, NoiseSpectrum
from speechqa.features.noise_floor import frame_levels_dbfs

FRAME = 512   # 32 ms at 16 kHz, the VAD's window
RATE = 16000


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)


def noise_power(x: np.ndarray, percentile: float = 10.0) -> list:
    """Each channel's noise spectrum, streamed in 3 pieces of whole frames as the VAD streams it."""
    spectrum = NoiseSpectrum(x.shape[0], FRAME, percentile=percentile)
    usable = x.shape[1] // FRAME * FRAME
    for part in np.array_split(np.arange(usable // FRAME), 3):
        frames = x[:, part[0] * FRAME:(part[-1] + 1) * FRAME]
        spectrum.add(frames, frame_levels_dbfs(frames, FRAME))
    return spectrum.power()


def reduce(x: np.ndarray, power: list, pieces: list[int], *, max_attenuation_db: float = 40.0) -> np.ndarray:
    reducer = NoiseReducer(power, FRAME, max_attenuation_db=max_attenuation_db)
    bounds = np.cumsum([0, *pieces])
    assert bounds[-1] == x.shape[1]
    out = [reducer.process(x[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.concatenate([*out, reducer.flush()], axis=1)


def level_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))


def tone_over_noise(rng) -> np.ndarray:
    """4 s: white noise at -50 dBFS, a 1 kHz tone at -20 dBFS from 1.5 to 2.5 s."""
    t = np.arange(4 * RATE) / RATE
    x = rng.standard_normal(t.size) * 10 ** (-50 / 20)
    x += np.where((t >= 1.5) & (t < 2.5), np.sqrt(2) * 10 ** (-20 / 20) * np.sin(2 * np.pi * 1000 * t), 0.0)
    return x[np.newaxis].astype(np.float32)


def test_noise_spectrum_is_the_quiet_frames(rng):
    # White noise at -50 dBFS: its spectrum is flat at the level the window's power gives it.
    x = tone_over_noise(rng)
    (power,) = noise_power(x)
    window_power = np.sum(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME))
    expected = window_power * 10 ** (-50 / 10)
    assert np.median(power) == pytest.approx(expected, rel=0.1)
    assert power[1000 * FRAME // RATE] < 2 * expected   # the tone is no part of the noise


def test_digital_silence_has_no_noise_spectrum(rng):
    x = tone_over_noise(rng)
    x[:, : 2 * RATE] = 0.0   # half the channel zeroed: its quietest tenth is digital silence
    assert noise_power(x) == [None]


def test_steady_noise_goes_and_the_tone_stays(rng):
    x = tone_over_noise(rng)
    out = reduce(x, noise_power(x), [x.shape[1]])
    assert out.shape == x.shape and out.dtype == np.float32
    noise_only = slice(int(0.2 * RATE), int(1.3 * RATE))
    tone = slice(int(1.6 * RATE), int(2.4 * RATE))
    assert level_db(out[0, noise_only]) < level_db(x[0, noise_only]) - 25   # attenuated by 25 dB at least
    assert level_db(out[0, tone]) == pytest.approx(level_db(x[0, tone]), abs=0.5)


def test_attenuation_is_bounded(rng):
    x = tone_over_noise(rng)
    out = reduce(x, noise_power(x), [x.shape[1]], max_attenuation_db=10.0)
    noise_only = slice(int(0.2 * RATE), int(1.3 * RATE))
    assert level_db(out[0, noise_only]) >= level_db(x[0, noise_only]) - 10.5


def test_streamed_in_any_pieces_as_in_one(rng):
    x = np.concatenate([tone_over_noise(rng), tone_over_noise(rng)[:, ::-1]])
    power = noise_power(x)
    whole = reduce(x, power, [x.shape[1]])
    pieces = reduce(x, power, [1, 255, 256, 7000, 30001, x.shape[1] - 37513])
    np.testing.assert_allclose(pieces, whole, atol=1e-7)


def test_no_noise_spectrum_passes_through_exactly(rng):
    x = np.concatenate([tone_over_noise(rng), tone_over_noise(rng)])
    power = noise_power(x)
    out = reduce(x, [power[0], None], [10000, x.shape[1] - 10000])
    np.testing.assert_array_equal(out[1], x[1])
    assert level_db(out[0, : RATE]) < level_db(x[0, : RATE]) - 25


def test_gain_of_one_gives_the_signal_back(rng):
    # A noise spectrum far under the signal: the gain is 1 to float32 rounding, and the
    # half-overlapped square-root Hann windows add back up to the signal.
    x = tone_over_noise(rng)
    out = reduce(x, [np.full(FRAME // 2 + 1, 1e-30)], [x.shape[1]])
    np.testing.assert_allclose(out, x, atol=1e-6)
