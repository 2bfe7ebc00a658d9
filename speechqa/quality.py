"""Quality flags of a recording: narrowband, clipping, dual mono, crosstalk, SNR.

Pure functions over arrays; each says how much a measurement of the call can be trusted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from speechqa.options import QualityOptions
from speechqa.timeline import bridge_gaps


@dataclass(frozen=True)
class Quality:
    """How far a call's measurements can be trusted: flags and the figures behind them."""

    narrowband: bool                    # phone-band audio (8 kHz, or no energy above 4 kHz)
    clipping: bool                      # clipping_share reached [measure.quality] clipping_share
    clipping_share: float               # share of samples at full scale, the worse channel
    truncated: bool                     # the file ended before its header said it would
    dual_mono: bool                     # two channels carrying one signal: measured as mono
    channel_correlation: float | None   # of the two channels at lag 0; None for one channel
    crosstalk: bool                     # some speech was the other channel leaking in
    crosstalk_s: float                  # how much, both channels together
    snr_db: float | None                # speech level over noise floor, the worse channel
    asr_confidence: float | None = None # mean recogniser probability of the words; None without ASR
    speakers: int | None = None         # voices a mono call holds (1 or 2); None when not diarized (stereo, or off)
    diarization_confidence: float | None = None   # speechqa.diarize.Diarization.confidence; None unless split

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def channel_correlation(left: np.ndarray, right: np.ndarray, *, chunk: int = 1 << 20) -> float:
    """Pearson correlation of two channels at lag 0 (0.0 when either is constant); summed in
    float64 a chunk at a time, so a long call needs no full-size copies."""
    n = min(left.size, right.size)
    sums = np.zeros(5)   # x, y, xx, yy, xy
    for start in range(0, n, chunk):
        x = left[start:start + chunk].astype(np.float64)
        y = right[start:start + chunk].astype(np.float64)
        sums += (x.sum(), y.sum(), np.dot(x, x), np.dot(y, y), np.dot(x, y))
    if n == 0:
        return 0.0
    sx, sy, sxx, syy, sxy = sums
    cov = sxy - sx * sy / n
    var = (sxx - sx * sx / n) * (syy - sy * sy / n)
    return float(cov / np.sqrt(var)) if var > 0 else 0.0


def clipping_share(signal: np.ndarray, *, full_scale: float = 0.999) -> float:
    """Share of samples at (or within 0.1 % of) full scale."""
    if signal.size == 0:
        return 0.0
    # Two comparisons instead of np.abs: no float copy of a long signal.
    clipped = np.count_nonzero(signal >= full_scale) + np.count_nonzero(signal <= -full_scale)
    return float(clipped / signal.size)


def high_band_share(signal: np.ndarray, sample_rate_hz: int, *, cutoff_hz: float = 4000.0) -> float:
    """Share of the signal's energy above cutoff_hz (0 when the rate cannot carry it)."""
    if sample_rate_hz <= 2 * cutoff_hz or signal.size == 0:
        return 0.0
    frame, per_block = 1024, 1024
    frames = signal.size // frame
    if frames == 0:
        return 0.0
    power = np.zeros(frame // 2 + 1)
    for f0 in range(0, frames, per_block):
        block = signal[f0 * frame: min(frames, f0 + per_block) * frame].reshape(-1, frame).astype(np.float64)
        power += np.sum(np.abs(np.fft.rfft(block * np.hanning(frame), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)
    total = power.sum()
    return float(power[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0


def leak_intervals(
    own: np.ndarray,
    other: np.ndarray,
    segments: np.ndarray,
    sample_rate_hz: int,
    *,
    options: QualityOptions,
    frame_s: float = 0.032,
    min_run_s: float = 0.1,
    min_evidence_s: float = 1.0,
    explained_margin_db: float = 6.0,
) -> np.ndarray:
    """Stretches of `own`'s speech segments that are the other channel leaking in, as (n, 2)
    intervals (runs of at least min_run_s).

    Per frame rather than per segment, so that leak merged into a party's own speech is removed
    and the speech stays. Two passes: frames strongly correlated (>= crosstalk_correlation) with
    `other` at the segment's best lag (within crosstalk_max_lag_s), and quieter here than there,
    in runs of at least min_run_s adding up to min_evidence_s, are leak; their level relative to
    the other channel is the line's coupling (median, dB).
    Then every frame no louder than coupling + explained_margin_db relative to the other
    channel is leak too: the leak's soft onsets and decays correlate less than its core."""
    max_lag = int(options.crosstalk_max_lag_s * sample_rate_hz)
    frame = max(1, int(frame_s * sample_rate_hz))
    per_segment = []   # (start_s, own frame energy, other frame energy, correlated-leak mask)
    for start_s, end_s in segments:
        a, b = int(start_s * sample_rate_hz), int(end_s * sample_rate_hz)
        x = own[a:b].astype(np.float64)
        y = other[max(0, a - max_lag): b + max_lag].astype(np.float64)
        if x.size < frame or y.size < x.size or not np.any(x) or not np.any(y):
            continue
        shift = _best_shift(x, y)
        n = x.size // frame * frame
        xf, yf = x[:n].reshape(-1, frame), y[shift: shift + n].reshape(-1, frame)
        own_energy = np.einsum("ij,ij->i", xf, xf)
        other_energy = np.einsum("ij,ij->i", yf, yf)
        corr = np.abs(np.einsum("ij,ij->i", xf, yf)) / np.sqrt(np.maximum(own_energy * other_energy, 1e-20))
        correlated = (corr >= options.crosstalk_correlation) & (own_energy < other_energy)
        per_segment.append((start_s, own_energy, other_energy, correlated))
    # Only runs of correlated frames are evidence of a leak; a call whose evidence adds up to
    # less than min_evidence_s has none (real calls show a few chance-alike frames).
    min_frames = int(np.ceil(min_run_s / (frame / sample_rate_hz) - 1e-9))
    ratios = []
    for _, own_e, other_e, correlated in per_segment:
        for first, last in _runs(correlated):
            if last - first >= min_frames:
                ratios.append(10 * np.log10(np.maximum(own_e[first:last], 1e-20) / np.maximum(other_e[first:last], 1e-20)))
    if sum(r.size for r in ratios) * frame < min_evidence_s * sample_rate_hz:
        return np.zeros((0, 2))
    coupling_db = float(np.median(np.concatenate(ratios)))
    explained = 10 ** ((coupling_db + explained_margin_db) / 10)
    leaks = []
    frame_s = frame / sample_rate_hz
    for start_s, own_e, other_e, correlated in per_segment:
        runs = np.array(_runs(correlated | (own_e <= explained * other_e)), dtype=np.float64).reshape(-1, 2)
        # A frame of line noise inside leaked speech (a pause of the other party) does not split
        # the leak; then a run shorter than min_run_s is chance likeness, not a leak.
        runs = bridge_gaps(start_s + runs * frame_s, max_gap_s=min_run_s)
        leaks.extend(runs[runs[:, 1] - runs[:, 0] >= min_run_s - 1e-9])
    return np.array(leaks, dtype=np.float64).reshape(-1, 2)


def _best_shift(x: np.ndarray, y: np.ndarray) -> int:
    """Offset into y (longer than x) of the window that correlates best with x."""
    n = x.size
    size = 1 << int(np.ceil(np.log2(x.size + y.size)))
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: y.size - n + 1]
    energy = np.cumsum(np.concatenate([[0.0], y**2]))
    window_energy = energy[n:] - energy[:-n]
    return int(np.argmax(np.abs(corr) / np.sqrt(np.maximum(window_energy, 1e-20))))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[first, last) index pairs of the True runs in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))
