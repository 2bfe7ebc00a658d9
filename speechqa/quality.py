"""Quality flags of a recording: narrowband, clipping, dual mono, crosstalk, SNR.

Pure functions over arrays; each says how much a measurement of the call can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QualityOptions:
    dual_mono_correlation: float = 0.95   # channels this alike are one signal twice
    crosstalk_correlation: float = 0.6    # a segment this alike to the other channel is leak
    crosstalk_max_lag_s: float = 0.25
    clipping_share: float = 0.001         # share of samples at full scale that flags clipping
    narrowband_max_share: float = 0.001   # energy share above 4 kHz below which audio is phone-band

    def __post_init__(self):
        for name in ("dual_mono_correlation", "crosstalk_correlation"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)!r} must be in (0, 1]")


def channel_correlation(left: np.ndarray, right: np.ndarray) -> float:
    """Pearson correlation of two channels at lag 0 (0.0 when either is constant)."""
    left = left.astype(np.float64) - np.mean(left)
    right = right.astype(np.float64) - np.mean(right)
    norm = np.sqrt(np.dot(left, left) * np.dot(right, right))
    return float(np.dot(left, right) / norm) if norm > 0 else 0.0


def clipping_share(signal: np.ndarray, *, full_scale: float = 0.999) -> float:
    """Share of samples at (or within 0.1 % of) full scale."""
    if signal.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(signal) >= full_scale) / signal.size)


def high_band_share(signal: np.ndarray, sample_rate_hz: int, *, cutoff_hz: float = 4000.0) -> float:
    """Share of the signal's energy above cutoff_hz (0 when the rate cannot carry it)."""
    if sample_rate_hz <= 2 * cutoff_hz or signal.size == 0:
        return 0.0
    frame = 1024
    usable = signal[: signal.size // frame * frame].reshape(-1, frame).astype(np.float64)
    if usable.size == 0:
        return 0.0
    power = np.sum(np.abs(np.fft.rfft(usable * np.hanning(frame), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)
    total = power.sum()
    return float(power[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0


def leaked_segments(
    own: np.ndarray,
    other: np.ndarray,
    segments: np.ndarray,
    sample_rate_hz: int,
    *,
    options: QualityOptions,
) -> np.ndarray:
    """Boolean mask over `segments` (speech found in `own`): True where that speech is the other
    channel's signal leaking in — strongly correlated with `other` within the lag window, and
    quieter here than there."""
    max_lag = int(options.crosstalk_max_lag_s * sample_rate_hz)
    leaked = np.zeros(len(segments), dtype=bool)
    for i, (start_s, end_s) in enumerate(segments):
        a = int(start_s * sample_rate_hz)
        b = int(end_s * sample_rate_hz)
        x = own[a:b].astype(np.float64)
        y = other[max(0, a - max_lag): b + max_lag].astype(np.float64)
        if x.size < 2 or np.dot(x, x) == 0 or np.dot(y, y) == 0:
            continue
        if np.mean(x**2) >= np.mean(other[a:b].astype(np.float64) ** 2):
            continue   # louder here than there: this channel's own speech
        leaked[i] = _max_normalised_xcorr(x, y) >= options.crosstalk_correlation
    return leaked


def _max_normalised_xcorr(x: np.ndarray, y: np.ndarray) -> float:
    """Max over lags of the correlation of x with equal-length windows of y (y longer than x)."""
    n = x.size
    size = 1 << int(np.ceil(np.log2(x.size + y.size)))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: y.size - n + 1]
    energy = np.cumsum(np.concatenate([[0.0], y**2]))
    window_energy = energy[n:] - energy[:-n]
    denom = np.sqrt(np.dot(x, x) * np.maximum(window_energy, 1e-20))
    return float(np.max(np.abs(corr) / denom)) if corr.size else 0.0
