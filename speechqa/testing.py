"""Helpers to check measurements against references: a simulated telephone line and scores of
a speech timeline against hand marks or a laryngograph. Used by the tests and the benchmarks,
so that both measure the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHONE_RATE_HZ = 8000
FDA_HOP_S = 0.015   # FDA .f0ref files: one value per 15 ms, value k at k * 15 ms


def phone_channel(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """A telephone line: resample to 8 kHz, 300-3400 Hz 4th-order Butterworth band-pass, 8-bit
    G.711-style mu-law encode and decode. Returns float32 at PHONE_RATE_HZ."""
    import soxr
    from scipy.signal import butter, sosfilt

    y = soxr.resample(np.asarray(signal, dtype=np.float64), sample_rate_hz, PHONE_RATE_HZ, quality="HQ")
    y = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=PHONE_RATE_HZ, output="sos"), y)
    mu = 255.0
    encoded = np.sign(y) * np.log1p(mu * np.minimum(np.abs(y), 1.0)) / np.log1p(mu)
    decoded = np.round((encoded + 1.0) / 2.0 * 255.0) / 255.0 * 2.0 - 1.0   # 256 codes
    return (np.sign(decoded) * np.expm1(np.abs(decoded) * np.log1p(mu)) / mu).astype(np.float32)


def boundary_f1(found: np.ndarray, reference: np.ndarray, *, tolerance_s: float = 0.05) -> float:
    """F1 of interval boundaries (starts and ends pooled), matched one-to-one within tolerance."""
    from scipy.optimize import linear_sum_assignment

    hyp, ref = np.sort(np.ravel(found)), np.sort(np.ravel(reference))
    if len(hyp) == 0 or len(ref) == 0:
        return 0.0
    distance = np.abs(hyp[:, None] - ref[None, :])
    rows, cols = linear_sum_assignment(np.where(distance <= tolerance_s, distance, 1e6))
    hits = int(np.sum(distance[rows, cols] <= tolerance_s))
    return 2 * hits / (len(hyp) + len(ref))


def laryngograph_scores(paths: list[Path], detect) -> dict:
    """VAD recall and false alarms on FDA recordings through a phone channel.

    `detect(signal, sample_rate_hz) -> (n, 2) intervals`. Recall: share of laryngograph-voiced
    frames called speech. False alarms: share of the leading and trailing silence called speech,
    where silence lies outside the first-to-last sound (voiced, or 20 dB above the clean
    recording's floor, since the laryngograph cannot see the /s/ of "wasps") with 0.1 s slack.
    """
    import soundfile as sf

    voiced_hits = voiced = silence_hits = silence = 0
    for path in paths:
        x, sr = sf.read(path, dtype="float32")
        f0 = np.loadtxt(path.with_suffix(".f0ref"))
        found = detect(phone_channel(x, sr), PHONE_RATE_HZ)
        t = np.arange(len(f0)) * FDA_HOP_S
        speech = np.zeros(len(t), dtype=bool)
        for start, end in found:
            speech |= (t >= start) & (t < end)
        half = int(FDA_HOP_S * sr)
        level = np.array(
            [10 * np.log10(np.mean(x[max(0, k * half - half): k * half + half] ** 2) + 1e-12) for k in range(len(f0))]
        )
        sound = np.flatnonzero((f0 > 0) | (level > np.percentile(level, 5) + 20))
        quiet = (t < t[sound[0]] - 0.1) | (t > t[sound[-1]] + 0.1)
        voiced_hits += speech[f0 > 0].sum()
        voiced += (f0 > 0).sum()
        silence_hits += speech[quiet].sum()
        silence += quiet.sum()
    return {
        "recall": voiced_hits / voiced,
        "false_alarm": silence_hits / max(silence, 1),
        "silence_s": silence * FDA_HOP_S,
    }
