"""A channel's noise floor: one definition, shared by the VAD's energy gate and the SNR.

**Frames.** RMS levels (dBFS, `20 * log10(rms)`, full scale 1.0) of consecutive frames; the VAD
uses its own 32 ms frames at its model rate (`speechqa.features.vad`), so the floor that gates a
frame is measured on the same frames, and the floor it reports for the SNR is that one. At the
default 16 kHz model rate that is the 0-8 kHz band: all of a telephone channel, the lower part of
wideband audio. A level is clipped at `DIGITAL_SILENCE_DBFS` (-100 dBFS, a third of one 16-bit
step: digital silence, or as good as).

**Floor.** The `percentile` (10 by default) of the frame levels: in a call each party is silent a
good part of the time, so the quietest tenth of its channel's frames is its line with nobody
talking. Relative to the channel, not an absolute dBFS threshold, because line and handset gains
differ by tens of dB between calls; a clip that is speech from end to end loses its quietest
tenth to it (calls are not like that).

**Digital silence** (frames at -100 dBFS: a leg the recorder zeroed while muted, on hold or before
it opened) counts as time the party is silent, but it is no level of the line: when the
percentile falls on it, the floor is None, and the VAD gates at digital silence alone. The
channel's quietest open frames then cannot be told from its quietest speech: on lca49's two legs
with all but each utterance and 0.1 s around it zeroed (`benchmarks/bench_vad.py`, "muted"), a
floor over the open frames alone sits 10-34 dB above the line's, so the SNR would read that much
too low, and a gate on it loses 4-5 % of the speech at the 16 kHz model rate (7 and 16 % at
8 kHz); without one the VAD keeps 0.999 / 0.998 of it (0.986 / 0.904 at 8 kHz: what the network
alone finds). The VAD's earlier floor counted digital silence at -100 dBFS, so it gated the same
way; its figures (count.wav, FDA, lca49) are unchanged. The price: a leg zeroed for a tenth of
the call or more (muted on hold) has no floor, hence no SNR, even where its open frames would
give a fair one.
"""

from __future__ import annotations

import numpy as np

from speechqa.features.checks import check_number, check_rate, check_signal

__all__ = ["DIGITAL_SILENCE_DBFS", "frame_levels_dbfs", "noise_floor_dbfs", "noise_floor_of_levels"]

#: Frame levels are clipped here; a frame this low is digital silence (or as good as).
DIGITAL_SILENCE_DBFS = -100.0

_BLOCK_SAMPLES = 1 << 20   # frame levels are computed in float64 a block of about this many samples at a time


def frame_levels_dbfs(x: np.ndarray, frame_len: int) -> np.ndarray:
    """RMS level (dBFS, clipped at DIGITAL_SILENCE_DBFS) of each `frame_len`-sample frame of the
    rows of `x` ((channels, samples) floats); the last frame is zero-padded to full length."""
    channels, n = x.shape
    frames = -(-n // frame_len)
    out = np.empty((channels, frames), dtype=np.float64)
    per_block = max(1, _BLOCK_SAMPLES // frame_len)
    for f0 in range(0, frames, per_block):
        f1 = min(frames, f0 + per_block)
        block = np.zeros((channels, (f1 - f0) * frame_len), dtype=np.float64)
        part = x[:, f0 * frame_len : f1 * frame_len]
        block[:, : part.shape[1]] = part
        block = block.reshape(channels, f1 - f0, frame_len)
        out[:, f0:f1] = np.einsum("cfw,cfw->cf", block, block) / frame_len
    return np.maximum(10.0 * np.log10(np.maximum(out, 1e-30)), DIGITAL_SILENCE_DBFS)


def noise_floor_of_levels(levels_dbfs: np.ndarray, *, percentile: float = 10.0) -> float | None:
    """The noise floor (dBFS) of one channel from its frame levels (see the module docstring).

    None when there are no frames, or when the percentile falls on digital silence.
    """
    levels = np.asarray(levels_dbfs, dtype=np.float64)
    if levels.size == 0:
        return None
    # The frame the percentile starts from ("lower"): digital silence there means no floor, not a
    # value interpolated between -100 dBFS and the line.
    if np.percentile(levels, percentile, method="lower") <= DIGITAL_SILENCE_DBFS:
        return None
    return float(np.percentile(levels, percentile))


def noise_floor_dbfs(signal, sample_rate_hz, *, frame_s: float = 0.032, percentile: float = 10.0) -> float | None:
    """The noise floor (dBFS) of a 1-D signal at its own rate, over `frame_s` frames.

    The same definition as the VAD's, for a signal that does not go through it; a channel the
    VAD has seen has its floor already (`speechqa.features.vad.detect_speech_with_floor`).
    None when the signal is empty or the percentile falls on digital silence.
    """
    x = check_signal(signal)
    fs = check_rate(sample_rate_hz)
    frame_s = check_number("frame_s", frame_s, low=0.0, low_inclusive=False, hint="use e.g. frame_s=0.032")
    percentile = check_number("percentile", percentile, low=0.0, low_inclusive=True, hint="use 0 to 100, e.g. 10")
    if percentile > 100.0:
        raise ValueError(f"percentile={percentile!r} is out of range; use 0 to 100, e.g. 10.")
    frame_len = int(round(frame_s * fs))
    if frame_len < 1:
        raise ValueError(f"frame_s={frame_s:g} is under one sample at {fs:g} Hz; use at least {1 / fs:.3g} s.")
    return noise_floor_of_levels(frame_levels_dbfs(x[np.newaxis, :], frame_len)[0], percentile=percentile)
