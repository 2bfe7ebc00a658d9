"""Input checks shared by the feature functions: each names the parameter and the fix."""

from __future__ import annotations

import math

import numpy as np

from speechqa.sample_file import is_sample_reader


def check_rate(sample_rate_hz: object) -> float:
    try:
        fs = float(sample_rate_hz)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r} must be a number of Hz, e.g. 8000.") from None
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r} must be a positive number of Hz, e.g. 8000.")
    return fs


def check_number(name: str, value: object, *, low: float = 0.0, low_inclusive: bool = False, hint: str) -> float:
    """A finite number above `low` (or equal to it when low_inclusive)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number; {hint}.") from None
    if not math.isfinite(v) or v < low or (v == low and not low_inclusive):
        raise ValueError(f"{name}={value!r} is out of range; {hint}.")
    return v


def check_signal(signal: object, *, max_channels: int = 1) -> np.ndarray:
    """A float signal in [-1, 1]: 1-D, or (channels, n) with up to max_channels channels.

    A recording's sample file (speechqa.sample_file) passes as it is, to be read a block at a
    time: it is float32 and finite by construction, and converting it would read it whole."""
    if is_sample_reader(signal):
        if signal.ndim == 2 and (max_channels == 1 or signal.shape[0] > max_channels):
            raise ValueError(f"signal has {signal.shape[0]} channels; pass one channel, e.g. signal[0].")
        return signal
    x = np.asarray(signal)
    if x.dtype.kind in "iu":
        scale = 2.0 ** (8 * x.dtype.itemsize - 1)
        fix = f"signal.astype(np.float32) / {scale:g}" if x.dtype.kind == "i" else \
            f"(signal.astype(np.float32) - {scale:g}) / {scale:g}"
        raise ValueError(f"signal is {x.dtype} PCM; pass floats in [-1, 1]: divide by {scale:g}, e.g. {fix}.")
    if x.dtype.kind != "f":
        raise ValueError(f"signal must be a float array in [-1, 1]; got dtype {x.dtype}.")
    if max_channels > 1:
        if x.ndim == 2 and x.shape[0] > max_channels:
            hint = " (for soundfile's (n, channels) layout pass signal.T)" if x.shape[1] <= max_channels else ""
            raise ValueError(
                f"signal of shape {x.shape} has {x.shape[0]} channels; pass (channels, n) with at most "
                f"{max_channels} channels (L, R, C){hint}."
            )
        if x.ndim not in (1, 2):
            raise ValueError(f"signal must be 1-D or (channels, n); got shape {x.shape}.")
    elif x.ndim != 1:
        raise ValueError(f"signal must be 1-D (one channel); got shape {x.shape}. Pass one channel, e.g. signal[0].")
    if x.size and not math.isfinite(float(np.sum(x, dtype=np.float64))):
        raise ValueError("signal contains NaN or infinite samples; clean or drop them first.")
    return x
