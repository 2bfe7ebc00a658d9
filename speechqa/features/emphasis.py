"""Emphasis: the acoustics of each recognised word, and which words stand out in their utterance.

Two steps, as speechqa.features.pitch separates frames from statistics:

- `word_acoustics(signal, sr, pitch, starts_s, ends_s)` -> `WordAcoustics`: per word its F0 peak
  (the 90th percentile of its voiced frames of the channel's RAPT track; a percentile, not the
  maximum, so that one or two octave-error frames do not make a peak) and its level (the loudest
  30 ms RMS frame inside it, 10 ms hop: the vowel nucleus, in dBFS as speechqa.features.loudness
  counts them, 20 log10 rms re full scale 1.0). Measured once, from the audio, and stored per word.
- `prominence(f0_peak_hz, level_dbfs, duration_s, syllables)` -> `Prominence`: for the words of
  one utterance, in order, how far each one's F0 peak (semitones), level (dB) and duration per
  syllable (ratio) stand above the median of its neighbours (up to `neighbours` words on each
  side, itself left out), and whether at least `min_cues` of the three reach their thresholds.
  No audio: this runs at scoring time on the stored per-word values.

Prominence is heard from F0, loudness and duration together, and no one of them is reliable alone
(Kochanski et al. 2005, "Loudness predicts prominence; fundamental frequency lends little", found
loudness and duration the stronger cues in English speech; a word can be accented by F0 alone),
so a word needs `min_cues` of the three. Neighbours, not the utterance as a whole, are the reference: F0 declines over an
utterance, so a word early in it would stand out from a whole-utterance median by declination
alone. Limits (README, Metrics): the word times come from the recogniser and are off by tens of
ms, so the duration cue is the weakest; a word's F0 peak may fall on a neighbour's edge; function
words between two content words lower the neighbours' median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.features.checks import check_rate, check_signal
from speechqa.features.pitch import PitchTrack

FRAME_S = 0.03            # RMS frame of the word level (one vowel nucleus)
HOP_S = 0.01
MIN_VOICED_FRAMES = 3     # a word's F0 peak needs this many voiced frames (30 ms at a 10 ms hop)
F0_PEAK_PERCENTILE = 90.0


@dataclass(frozen=True)
class WordAcoustics:
    """Per word (arrays of equal length; NaN where unmeasured): the F0 peak in Hz (NaN with fewer
    than 3 voiced frames) and the loudest 30 ms frame in dBFS (NaN for a word of digital silence
    or outside the signal)."""

    f0_peak_hz: np.ndarray
    level_dbfs: np.ndarray


@dataclass(frozen=True)
class Prominence:
    """Per word of one utterance (NaN where a cue is unmeasured): rises over the neighbours'
    median, whether the word was assessed (min_cues cues measured) and whether it is prominent."""

    f0_rise_st: np.ndarray
    level_rise_db: np.ndarray
    duration_ratio: np.ndarray
    assessed: np.ndarray
    prominent: np.ndarray


def word_acoustics(signal: np.ndarray, sample_rate_hz: float, pitch: PitchTrack, starts_s, ends_s) -> WordAcoustics:
    """F0 peak and peak level of each word [starts_s[i], ends_s[i]] of one channel."""
    x = check_signal(signal)
    sr = check_rate(sample_rate_hz)
    starts, ends = np.asarray(starts_s, dtype=np.float64).ravel(), np.asarray(ends_s, dtype=np.float64).ravel()
    if starts.shape != ends.shape:
        raise ValueError(f"starts_s has {starts.size} values and ends_s {ends.size}; give one start and end per word")
    frame, hop = max(int(round(FRAME_S * sr)), 1), max(int(round(HOP_S * sr)), 1)
    f0 = pitch.f0_hz
    peaks, levels = np.full(starts.shape, np.nan), np.full(starts.shape, np.nan)
    for i, (start, end) in enumerate(zip(starts, ends)):
        if not end > start:
            continue
        a, b = max(int(round(start * sr)), 0), min(int(round(end * sr)), len(x))
        seg = x[a:b].astype(np.float64)
        if len(seg):
            energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
            width = min(frame, len(seg))
            lo = np.arange(0, len(seg) - width + 1, hop)
            power = (energy[lo + width] - energy[lo]) / width
            top = power.max()
            if top > 0:
                levels[i] = 10.0 * np.log10(top)
        first, stop = max(int(np.ceil(start / pitch.hop_s)), 0), int(np.floor(end / pitch.hop_s)) + 1
        voiced = f0[first:stop]
        voiced = voiced[voiced > 0]
        if len(voiced) >= MIN_VOICED_FRAMES:
            peaks[i] = np.percentile(voiced, F0_PEAK_PERCENTILE)
    return WordAcoustics(f0_peak_hz=peaks, level_dbfs=levels)


def prominence(
    f0_peak_hz,
    level_dbfs,
    duration_s,
    syllables,
    *,
    neighbours: int = 3,
    min_neighbours: int = 2,
    f0_rise_st: float = 2.0,
    level_rise_db: float = 3.0,
    duration_ratio: float = 1.4,
    min_cues: int = 2,
) -> Prominence:
    """Which words of one utterance (in order) stand out against their neighbours; see the module
    docstring. A cue is measured for a word when the word has it and at least `min_neighbours` of
    its neighbours do; a word is assessed when at least `min_cues` cues are measured, and
    prominent when at least `min_cues` reach their thresholds (F0 peak `f0_rise_st` semitones
    over the neighbours' median, level `level_rise_db` dB over, duration per syllable
    `duration_ratio` times theirs)."""
    f0, level, duration, syll = (np.asarray([np.nan if v is None else v for v in a], dtype=np.float64).ravel()
                                 for a in (f0_peak_hz, level_dbfs, duration_s, syllables))
    n = len(f0)
    if not (len(level) == len(duration) == len(syll) == n):
        raise ValueError("f0_peak_hz, level_dbfs, duration_s and syllables must have one value per word")
    if neighbours < 1 or min_neighbours < 1 or min_neighbours > 2 * neighbours:
        raise ValueError(f"neighbours = {neighbours}, min_neighbours = {min_neighbours}; use neighbours >= 1 and "
                         "1 <= min_neighbours <= 2 x neighbours")
    if not 1 <= min_cues <= 3:
        raise ValueError(f"min_cues = {min_cues}; use 1 to 3 (of F0, level, duration)")
    with np.errstate(divide="ignore", invalid="ignore"):
        f0_st = np.where(f0 > 0, 12.0 * np.log2(f0), np.nan)
        per_syll = np.where((duration > 0) & (syll > 0), duration / syll, np.nan)
        log_dur = np.log(per_syll)
    rises = np.full((3, n), np.nan)
    # Word i's neighbours, as columns of a table over the values padded with `neighbours` NaNs on
    # each side (word i sits at i + neighbours there): one sort for all words, not a median each.
    offsets = np.concatenate([np.arange(neighbours), np.arange(neighbours + 1, 2 * neighbours + 1)])
    table = np.arange(n)[:, None] + offsets[None, :]
    edge = np.full(neighbours, np.nan)
    for k, values in enumerate((f0_st, level, log_dur)):
        values = np.where(np.isfinite(values), values, np.nan)
        around = np.sort(np.concatenate([edge, values, edge])[table], axis=1)   # NaNs sort last
        count = np.isfinite(around).sum(axis=1)
        rows = np.flatnonzero(np.isfinite(values) & (count >= min_neighbours))
        # The median of the finite neighbours, as np.median takes it: the middle one, or the
        # mean of the middle two.
        middle = (around[rows, count[rows] // 2] + around[rows, (count[rows] - 1) // 2]) / 2
        rises[k, rows] = values[rows] - middle
    thresholds = np.array([f0_rise_st, level_rise_db, np.log(duration_ratio)])[:, None]
    measured = np.isfinite(rises).sum(axis=0)
    up = (np.nan_to_num(rises, nan=-np.inf) >= thresholds).sum(axis=0)
    assessed = measured >= min_cues
    return Prominence(
        f0_rise_st=rises[0], level_rise_db=rises[1], duration_ratio=np.exp(rises[2]),
        assessed=assessed, prominent=assessed & (up >= min_cues),
    )
