"""Packing both parties' speech into Whisper windows, and the batches they are decoded in: pure
functions, no model and no faster-whisper needed."""

import numpy as np
import pytest
import soxr

from speechqa.options import AsrOptions
from speechqa.packing import ASR_RATE_HZ, at_asr_rate, even_batches, pack_speech, window_audio

RATE = 8000


def two_channels(seconds: float = 120.0) -> np.ndarray:
    """Each sample tells where it came from: channel c, sample i holds c + i / 10**7."""
    n = int(seconds * RATE)
    index = np.arange(n) / 1e7
    return np.stack([index, 1 + index]).astype(np.float64)


def test_pieces_are_the_source_samples_in_order_with_joints_between():
    samples = two_channels()
    speech = [np.array([[10.0, 12.0], [30.0, 31.0]]), np.array([[5.0, 6.5]])]
    packed, windows, packing = pack_speech(samples, RATE, speech, pad_s=0.2, tail_s=0.1, window_s=30.0, joint_s=0.1, order=[1, 0])
    assert packing.pieces[:, 3].tolist() == [1, 0, 0]            # the first channel in `order` first
    assert np.allclose(packing.pieces[:, 1], [4.8, 9.8, 29.8])     # widened by the pad before ...
    assert np.allclose(packing.pieces[:, 2], [1.8, 2.3, 1.3])      # ... and the tail after
    for packed_start, start, duration, channel in packing.pieces:
        a, n = int(round(packed_start * RATE)), int(round(duration * RATE))
        source = samples[int(channel), int(round(start * RATE)): int(round(start * RATE)) + n]
        assert np.allclose(packed[a: a + n], source, atol=1e-6)
        assert not np.any(packed[a + n: a + n + int(0.1 * RATE)])   # the joint is silence
    assert windows == [(0.0, pytest.approx(len(packed) / RATE))]


def test_locate_maps_packed_time_back_to_the_channel_and_its_time():
    samples = two_channels()
    speech = [np.array([[10.0, 12.0]]), np.array([[50.0, 52.0]])]
    _, _, packing = pack_speech(samples, RATE, speech, pad_s=0.0, tail_s=0.0, window_s=30.0, joint_s=0.1)
    assert packing.locate(0.5, 0.7) == (0, pytest.approx(10.5), pytest.approx(10.7))
    assert packing.locate(2.6, 2.8) == (1, pytest.approx(50.5), pytest.approx(50.7))
    # a word straddling the joint belongs to the piece holding its middle, clipped to it
    channel, start, end = packing.locate(1.95, 2.35)
    assert (channel, start, end) == (1, pytest.approx(50.0), pytest.approx(50.25))


def test_windows_are_filled_and_a_long_stretch_is_cut_at_its_quietest_moment():
    t = np.arange(int(100 * RATE)) / RATE
    loud = 0.5 * np.sin(2 * np.pi * 200 * t)
    loud[(t > 28.6) & (t < 28.8)] = 0.0   # a pause shortly before the window is full
    samples = np.stack([loud, np.zeros_like(loud)])
    speech = [np.array([[0.0, 70.0]]), np.zeros((0, 2))]
    packed, windows, packing = pack_speech(samples, RATE, speech, pad_s=0.0, tail_s=0.0, window_s=30.0, joint_s=0.1)
    assert all(end - start <= 30.0 + 1e-9 for start, end in windows)
    assert len(windows) == 3
    first_cut = packing.pieces[1, 1]
    assert 28.6 <= first_cut <= 28.8
    assert abs(packing.pieces[:, 2].sum() - 70.0) < 1e-3   # nothing lost, nothing twice


def test_no_speech_packs_nothing():
    packed, windows, packing = pack_speech(np.zeros((2, RATE)), RATE, [np.zeros((0, 2))] * 2, pad_s=0.2, tail_s=0.1, window_s=30.0, joint_s=0.1)
    assert packed.size == 0 and windows == [] and packing.pieces.shape == (0, 4)


def test_a_batch_at_whispers_rate_is_the_same_as_resampling_everything():
    rng = np.random.default_rng(1)
    packed = (0.1 * rng.standard_normal(90 * RATE)).astype(np.float32)
    whole = soxr.resample(packed, RATE, ASR_RATE_HZ, quality="HQ")
    windows = [(29.5, 59.3), (59.3, 88.1)]
    piece, first = at_asr_rate(packed, RATE, windows)
    assert first == int(29.5 * ASR_RATE_HZ)
    expected = whole[first: int(88.1 * ASR_RATE_HZ)]
    assert piece.shape == expected.shape
    assert np.max(np.abs(piece - expected)) < 1e-5


def test_each_window_is_cut_from_its_batch_at_its_own_time():
    audio = np.arange(int(60 * ASR_RATE_HZ), dtype=np.float32)   # each sample holds its packed index
    first = int(29.5 * ASR_RATE_HZ)
    cut = window_audio(audio[first:], first, [(29.5, 40.0), (40.0, 59.3)])
    assert [(int(c[0]), len(c)) for c in cut] == [(first, int(10.5 * ASR_RATE_HZ)), (int(40.0 * ASR_RATE_HZ), int(19.3 * ASR_RATE_HZ))]


@pytest.mark.parametrize("count, sizes", [(0, []), (1, [1]), (6, [6]), (7, [3, 4]), (10, [5, 5]), (13, [4, 4, 5])])
def test_batches_are_as_few_and_as_even_as_can_be(count, sizes):
    batches = even_batches(list(range(count)), 6)
    assert [len(b) for b in batches] == sizes
    assert [x for b in batches for x in b] == list(range(count))


@pytest.mark.parametrize("field", ["batch_size", "beam_size"])
def test_batch_and_beam_must_be_whole_and_positive(field):
    with pytest.raises(ValueError, match=field):
        AsrOptions(**{field: 0})
