"""Speech level and loudness of one channel: ITU-T P.56 method B, ITU-R BS.1770-4, noise floor.

criteria.md, "Loudness": the active speech level (P.56) over a party's speech only, integrated
loudness (BS.1770-4) over turns of 400 ms or more, and each channel's noise floor.

**dBFS convention.** Every level here is ``20 * log10(rms)`` with full scale = 1.0, so a full-scale
square wave reads 0 dBFS and a full-scale sine -3.01 dBFS. This is the dBov of ITU-T G.191's sv56.
Loudness is in LUFS (LKFS): the K-weighted mean square with BS.1770's -0.691 dB offset, so a
full-scale 1 kHz sine in one channel reads -3.01 LUFS.

**P.56 method B** (`active_speech_level`), as sv56 implements it: the envelope is |x| smoothed twice
by a one-pole filter with time constant `time_constant_s`; for thresholds c_j spaced 2:1 (here
2^0 ... 2^-24, i.e. down to -144.5 dBFS; sv56 stops at 2^-14) a sample is active when the envelope
reached c_j within the last `hangover_s`; the active level at c_j is the energy over the active
count, and the result is the level where it sits `margin_db` above the threshold. The crossing is
found by linear interpolation in dB between the two thresholds that bracket it (sv56 bisects the
same line to a 0.5 dB tolerance). The activity is the long-term power over the active power.
With `segments`, each segment is analysed as sv56 analyses a file (envelope and hangover start
from rest, nothing outside the segment leaks in) followed by silence, so the hangover after its
end counts as it would over the whole clip; energies and activity counts are pooled over the
segments before the level is searched.

**BS.1770-4** (`integrated_loudness`): K-weighting, mean square over 400 ms blocks with 75 %
overlap, absolute gate at -70 LUFS, relative gate 10 LU below the absolutely-gated loudness.
Channel weights are 1.0 (L, R, C); surround layouts are out of scope. The K-weighting runs over
the whole channel (so segment edges carry no filter start-up transient); block energies are
summed from 1 ms sub-blocks, so a segment's block grid starts at its own start (rounded to 1 ms).

**K-weighting at any rate.** BS.1770 gives the two biquads for 48 kHz only. Both are rebuilt
from their analogue prototypes (the parameters libebur128 uses):
- the 38 Hz high-pass by the bilinear transform prewarped at 38 Hz, with its pass-band gain held
  at that of the 48 kHz table (+0.044 dB; libebur128's unscaled numerator lets it grow to
  +0.26 dB at 8 kHz);
- the +4 dB high shelf (corner 1682 Hz) by magnitude matching (M. Vicanek, "Matched Second Order
  Digital Filters", 2016): poles by the matched z-transform, numerator chosen so the magnitude
  equals the analogue one at DC, at the corner and at Nyquist. At 8 kHz the corner is 0.42 of
  Nyquist, and the bilinear transform (libebur128's design) squeezes the shelf against Nyquist:
  it reads a 1 kHz tone 0.20 dB low and errs by up to 0.29 dB between 1 and 4 kHz.
Measured against the published 48 kHz filter from 10 Hz to Nyquist (20 kHz at most), the
K-weighting built here is within 0.034 dB at 8 kHz, 0.006 dB at 16 kHz and 0.008 dB at 44.1 and
48 kHz (the table itself is a bilinear design; a full-scale 997 Hz sine reads -3.005 LUFS, not
-3.010).

**Noise floor**: `speechqa.features.noise_floor`, one definition for the VAD's gate and the SNR;
the VAD reports each channel's floor with its speech (`detect_speech_with_floor`).

Everything runs in chunks of about a million samples and never copies the whole signal: besides
the signal, P.56 needs about 25 MB, RMS about 18 MB, and BS.1770 8 bytes per ms
of input (29 MB per hour) plus one chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import sosfilt

from speechqa.features.checks import check_number, check_rate, check_signal

__all__ = [
    "ActiveLevel",
    "active_speech_level",
    "integrated_loudness",
    "level_dbfs",
]

_CHUNK_SAMPLES = 1 << 20

# P.56 thresholds c_j = 2**k for k in _P56_EXPONENTS (0 dBFS down to -144.5 dBFS), 2:1 apart.
_P56_EXPONENTS = np.arange(0, -25, -1)

# BS.1770-4.
_LUFS_OFFSET_DB = -0.691
_BLOCK_MS = 400
_STEP_MS = 100  # 75 % overlap
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_MAX_CHANNELS = 3  # L, R, C, each with weight 1.0
_MIN_LOUDNESS_RATE_HZ = 8000.0

# Analogue prototypes of the K-weighting stages (libebur128, after Brecht De Man's derivation),
# which reproduce BS.1770's 48 kHz coefficients.
_SHELF_F0_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS_F0_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773


@dataclass(frozen=True)
class ActiveLevel:
    """ITU-T P.56 method B result over the analysed samples (the segments, or the whole signal)."""

    level_dbfs: float | None
    """Active speech level, 20*log10(rms) re full scale 1.0; None when no active speech."""
    activity: float
    """Active share of the analysed samples, 0..1."""
    active_s: float
    """Active speech time: activity times the analysed duration."""


# ----------------------------------------------------------------------------------- validation


def _check_segments(segments: object, n_samples: int, fs: float) -> np.ndarray:
    """(n, 2) [start_s, end_s] rows, validated, clipped to the signal."""
    seg = np.asarray(segments, dtype=np.float64)
    if seg.size == 0:
        return np.zeros((0, 2))
    if seg.ndim != 2 or seg.shape[1] != 2:
        raise ValueError(f"segments must be an (n, 2) array of [start_s, end_s] rows; got shape {seg.shape}.")
    if not np.isfinite(seg).all():
        raise ValueError("segments contain NaN or infinite times.")
    if (seg[:, 1] < seg[:, 0]).any():
        bad = seg[seg[:, 1] < seg[:, 0]][0]
        raise ValueError(f"segment {bad.tolist()} ends before it starts; rows are [start_s, end_s].")
    if (seg[1:, 0] < seg[:-1, 1]).any():
        raise ValueError("segments must be sorted and non-overlapping; sort them by start and merge overlaps.")
    duration_s = n_samples / fs
    if seg[0, 0] < 0 or seg[-1, 0] > duration_s:
        raise ValueError(
            f"segments run from {seg[0, 0]:g} s to {seg[-1, 0]:g} s but the signal lasts {duration_s:g} s; "
            "are they for this signal and sample_rate_hz?"
        )
    return np.clip(seg, 0.0, duration_s)


# ----------------------------------------------------------------------------------- plain levels


def _sum_squares(x: np.ndarray) -> float:
    total = 0.0
    for start in range(0, x.shape[-1], _CHUNK_SAMPLES):
        c = x[start : start + _CHUNK_SAMPLES].astype(np.float64)
        total += float(np.einsum("i,i->", c, c))  # not BLAS: its threads cost more than they save here
    return total


def _power_to_db(power: float) -> float | None:
    return 10.0 * math.log10(power) if power > 0 else None


def level_dbfs(signal) -> float | None:
    """Plain RMS level of a 1-D float signal in dBFS; None when empty or all zeros."""
    x = check_signal(signal)
    if x.size == 0:
        return None
    return _power_to_db(_sum_squares(x) / x.size)


# ----------------------------------------------------------------------------------- P.56


def _p56_piece(x: np.ndarray, g: float, hang: int, counts: np.ndarray, *, trailing_zeros: int = 0) -> None:
    """Add one piece's activity counts per threshold into `counts` (sv56: a[j]), in chunks,
    as if `trailing_zeros` samples of silence followed the piece."""
    sos = np.array([[1.0 - g, 0.0, 0.0, 1.0, -g, 0.0]] * 2)  # |x| smoothed twice: p, then q
    zi = np.zeros((2, 2))
    window = hang + 1  # active at n if q reached c_j at any of n-hang .. n
    origin = (window - 1) // 2  # makes maximum_filter1d's window trailing
    tail = np.zeros(0)
    n_bins = _P56_EXPONENTS.size + 1
    lowest = int(_P56_EXPONENTS[-1])
    chunks = [x[start : start + _CHUNK_SAMPLES] for start in range(0, x.size, _CHUNK_SAMPLES)]
    if trailing_zeros:
        chunks.append(np.zeros(trailing_zeros))
    for chunk in chunks:
        q, zi = sosfilt(sos, np.abs(chunk, dtype=np.float64), zi=zi)
        carried = tail.size
        if carried:
            q = np.concatenate([tail, q])
        peak = maximum_filter1d(q, window, mode="constant", cval=0.0, origin=origin)[carried:]
        tail = q[-hang:].copy() if hang else tail
        del q
        silent = int(np.count_nonzero(peak == 0))
        # floor(log2(peak)) = exponent - 1 (frexp's mantissa is in [0.5, 1)); peak >= 2**k iff that >= k.
        exponent = np.frexp(peak)[1]
        del peak
        exponent -= lowest  # bin = k - (lowest - 1): 0 = below every threshold, 1 - lowest = 2**0
        np.clip(exponent, 0, 1 - lowest, out=exponent)
        hist = np.bincount(exponent, minlength=n_bins)
        hist[-lowest] -= silent  # frexp(0) gives exponent 0, i.e. 2**-1: not active
        # counts[j] for threshold 2**_P56_EXPONENTS[j]: samples whose bin reaches it.
        counts += np.cumsum(hist[::-1])[: _P56_EXPONENTS.size]


def active_speech_level(
    signal,
    sample_rate_hz,
    *,
    segments=None,
    time_constant_s: float = 0.03,
    hangover_s: float = 0.2,
    margin_db: float = 15.9,
) -> ActiveLevel:
    """ITU-T P.56 method B active speech level of one channel, over `segments` when given.

    `segments`: (n, 2) [start_s, end_s] rows, sorted and non-overlapping; only samples inside them
    are analysed, each segment from rest (see the module docstring).
    """
    x = check_signal(signal)
    fs = check_rate(sample_rate_hz)
    tau = check_number("time_constant_s", time_constant_s, low=0.0, low_inclusive=False,
                        hint="P.56 uses time_constant_s=0.03")
    hang_s = check_number("hangover_s", hangover_s, low=0.0, low_inclusive=True, hint="P.56 uses hangover_s=0.2")
    margin = check_number("margin_db", margin_db, low=0.0, low_inclusive=False, hint="P.56 uses margin_db=15.9")
    if segments is None:
        pieces = [(0, x.size)]
    else:
        seg = _check_segments(segments, x.size, fs)
        bounds = np.round(seg * fs).astype(np.int64)
        pieces = [(int(a), int(b)) for a, b in bounds if b > a]

    g = math.exp(-1.0 / (fs * tau))
    hang = int(math.floor(hang_s * fs + 0.5))
    counts = np.zeros(_P56_EXPONENTS.size, dtype=np.int64)
    energy = 0.0
    n_analysed = 0
    for a, b in pieces:
        piece = x[a:b]
        energy += _sum_squares(piece)
        n_analysed += piece.size
        # A segment is followed by silence, so the hangover after its last speech still counts as
        # active, as in P.56 over the whole clip: cutting it off would read a party with many short
        # segments up to ~0.7 dB loud.
        _p56_piece(piece, g, hang, counts, trailing_zeros=hang if segments is not None else 0)

    none = ActiveLevel(level_dbfs=None, activity=0.0, active_s=0.0)
    if n_analysed == 0 or energy <= 0 or counts[-1] == 0:
        return none
    # Thresholds from the lowest up (sv56's order): A_j = active level, C_j = threshold, in dB.
    counts = counts[::-1]
    thresholds_db = 20.0 * np.log10(2.0) * _P56_EXPONENTS[::-1].astype(np.float64)
    with np.errstate(divide="ignore"):
        active_db = 10.0 * np.log10(energy / counts)  # +inf where no sample is active
    delta = active_db - thresholds_db
    if delta[0] < margin:
        return none
    crossing = np.flatnonzero((counts[1:] > 0) & (delta[1:] <= margin))
    if crossing.size == 0:
        return none
    j = int(crossing[0]) + 1
    # The previous threshold has delta > margin and counts > 0 (counts fall as thresholds rise).
    t = (delta[j - 1] - margin) / (delta[j - 1] - delta[j])
    level = float(active_db[j - 1] + t * (active_db[j] - active_db[j - 1]))
    long_term_db = 10.0 * math.log10(energy / n_analysed)
    activity = min(1.0, 10.0 ** ((long_term_db - level) / 10.0))
    return ActiveLevel(level_dbfs=level, activity=activity, active_s=activity * n_analysed / fs)


# ----------------------------------------------------------------------------------- BS.1770-4


def _k_weighting_sos(fs: float) -> np.ndarray:
    """K-weighting as two second-order sections for `fs` (shelf, then high-pass); see module doc."""
    # High shelf, magnitude-matched to its analogue prototype at DC, the corner and Nyquist.
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT

    def shelf_power(f_hz: float) -> float:
        s = 1j * f_hz / _SHELF_F0_HZ
        return abs((vh * s * s + vb / _SHELF_Q * s + 1.0) / (s * s + s / _SHELF_Q + 1.0)) ** 2

    w0 = 2.0 * math.pi * _SHELF_F0_HZ / fs
    zeta = 1.0 / (2.0 * _SHELF_Q)  # < 1: complex poles
    a1 = -2.0 * math.exp(-zeta * w0) * math.cos(w0 * math.sqrt(1.0 - zeta * zeta))
    a2 = math.exp(-2.0 * zeta * w0)
    big_a = ((1.0 + a1 + a2) ** 2, (1.0 - a1 + a2) ** 2, -4.0 * a2)
    phi1 = math.sin(w0 / 2.0) ** 2
    phi = (1.0 - phi1, phi1, 4.0 * (1.0 - phi1) * phi1)
    b0_sq = shelf_power(0.0) * big_a[0]
    b1_sq = shelf_power(fs / 2.0) * big_a[1]
    a_at_w0 = sum(ak * pk for ak, pk in zip(big_a, phi))
    b2_term = (shelf_power(_SHELF_F0_HZ) * a_at_w0 - b0_sq * phi[0] - b1_sq * phi[1]) / phi[2]
    w = (math.sqrt(b0_sq) + math.sqrt(b1_sq)) / 2.0
    b0 = (w + math.sqrt(max(0.0, w * w + b2_term))) / 2.0
    shelf = [b0, (math.sqrt(b0_sq) - math.sqrt(b1_sq)) / 2.0, -b2_term / (4.0 * b0), 1.0, a1, a2]

    # High-pass: bilinear transform prewarped at its corner; pass-band gain as in the 48 kHz table.
    def hp_den(rate: float) -> tuple[float, float, float]:
        k = math.tan(math.pi * _HIGHPASS_F0_HZ / rate)
        return 1.0 + k / _HIGHPASS_Q + k * k, 2.0 * (k * k - 1.0), 1.0 - k / _HIGHPASS_Q + k * k

    d0, d1, d2 = hp_den(fs)
    gain = hp_den(48000.0)[0] / d0
    highpass = [gain, -2.0 * gain, gain, 1.0, d1 / d0, d2 / d0]
    return np.array([shelf, highpass])


def _ms_bounds(k: np.ndarray, fs: float) -> np.ndarray:
    """Sample index where 1 ms sub-block k starts: floor(k * fs / 1000)."""
    if float(fs).is_integer():
        return (k * int(fs)) // 1000
    return np.floor(k * (fs / 1000.0) + 1e-9).astype(np.int64)


def _ms_energies(channels, fs: float, sos: np.ndarray, n_ms: int):
    """(k0, energies): the sum over channels of squared K-weighted samples in each complete 1 ms
    sub-block k0, k0 + 1, ..., a chunk of sub-blocks at a time (each channel filtered on from
    its state at the end of the previous chunk)."""
    per_chunk = max(1, int(_CHUNK_SAMPLES * 1000 // fs))
    states = [np.zeros((sos.shape[0], 2)) for _ in channels]
    for k0 in range(0, n_ms, per_chunk):
        k1 = min(n_ms, k0 + per_chunk)
        bounds = _ms_bounds(np.arange(k0, k1 + 1, dtype=np.int64), fs)
        total = np.zeros(k1 - k0)
        for i, x in enumerate(channels):
            y, states[i] = sosfilt(sos, x[bounds[0] : bounds[-1]].astype(np.float64), zi=states[i])
            np.square(y, out=y)
            total += np.add.reduceat(y, bounds[:-1] - bounds[0])
        yield k0, total


def _cumulative_at(energies, at: np.ndarray) -> np.ndarray:
    """The running sum of the 1 ms energies up to and including each sub-block in `at`, summed
    as one cumulative sum over the whole signal would (each chunk's running sum starts from the
    last), without holding a value per millisecond: an hour has 3.6 million."""
    order = np.argsort(at, kind="stable")
    wanted = at[order]
    found = np.zeros(at.size)
    carry, done = 0.0, 0
    for k0, chunk in energies:
        running = np.cumsum(np.concatenate(([carry], chunk)))[1:]
        upto = int(np.searchsorted(wanted, k0 + chunk.size, side="left"))
        found[order[done:upto]] = running[wanted[done:upto] - k0]
        done, carry = upto, running[-1]
    return found


def integrated_loudness(signal, sample_rate_hz, *, segments=None, min_segment_s: float = 0.4) -> float | None:
    """ITU-R BS.1770-4 integrated loudness in LUFS of a 1-D or (channels, n) signal.

    With `segments` ((n, 2) [start_s, end_s] rows), only 400 ms blocks lying inside segments of at
    least `min_segment_s` count; blocks are pooled over the segments before gating. None when no
    block is available (input shorter than 400 ms) or none passes the -70 LUFS gate.
    """
    x = check_signal(signal, max_channels=_MAX_CHANNELS)
    fs = check_rate(sample_rate_hz)
    if fs < _MIN_LOUDNESS_RATE_HZ:
        raise ValueError(
            f"sample_rate_hz={fs:g} is too low for K-weighting; resample to {_MIN_LOUDNESS_RATE_HZ:g} Hz or more."
        )
    min_seg = check_number("min_segment_s", min_segment_s, low=0.0, low_inclusive=True,
                            hint=f"use at least {_BLOCK_MS / 1000:g} s, one gating block")
    if min_seg < _BLOCK_MS / 1000.0:
        raise ValueError(
            f"min_segment_s={min_seg:g} is shorter than one {_BLOCK_MS / 1000:g} s gating block; "
            f"use min_segment_s >= {_BLOCK_MS / 1000:g}."
        )
    channels = [x] if x.ndim == 1 else list(x)
    n = x.shape[-1]
    n_ms = int(n * 1000 // fs) if float(fs).is_integer() else int(math.floor(n * 1000.0 / fs + 1e-9))
    if segments is None:
        spans = np.array([[0, n_ms]], dtype=np.int64)
    else:
        seg = _check_segments(segments, n, fs)
        seg = seg[seg[:, 1] - seg[:, 0] >= min_seg - 1e-9]
        spans = np.clip(np.round(seg * 1000.0).astype(np.int64), 0, n_ms)
    counts = np.maximum(0, (spans[:, 1] - spans[:, 0] - _BLOCK_MS) // _STEP_MS + 1)
    if counts.sum() == 0:
        return None
    starts = np.concatenate([s0 + _STEP_MS * np.arange(c) for (s0, _), c in zip(spans, counts) if c])

    # cumulative(k) = energy of sub-blocks 0 .. k, channels summed (BS.1770 weights: 1.0 for L, R and C)
    last = int((starts + _BLOCK_MS - 1).max()) + 1
    cumulative = _cumulative_at(_ms_energies(channels, fs, _k_weighting_sos(fs), last),
                                np.concatenate([np.maximum(starts - 1, 0), starts + _BLOCK_MS - 1]))
    before = np.where(starts > 0, cumulative[: starts.size], 0.0)
    lengths = _ms_bounds(starts + _BLOCK_MS, fs) - _ms_bounds(starts, fs)
    z = (cumulative[starts.size :] - before) / lengths
    with np.errstate(divide="ignore"):
        block_lufs = _LUFS_OFFSET_DB + 10.0 * np.log10(z)
    above_abs = z[block_lufs > _ABSOLUTE_GATE_LUFS]
    if above_abs.size == 0:
        return None
    relative_gate = _LUFS_OFFSET_DB + 10.0 * math.log10(above_abs.mean()) + _RELATIVE_GATE_LU
    gated = z[(block_lufs > _ABSOLUTE_GATE_LUFS) & (block_lufs > relative_gate)]
    return float(_LUFS_OFFSET_DB + 10.0 * math.log10(gated.mean()))
