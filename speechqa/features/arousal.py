"""Arousal per turn: how far a turn's level, F0 and articulation rate rise above the party's own
call median, and whether the turn reads "raised".

criteria.md, "Arousal (emotion/timbre control)": rises of F0, loudness and speaking rate relative
to the party's own speech; a proxy, labelled as one. Raised vocal arousal (anger, agitation,
stress) shows as higher F0, higher intensity and a faster rate at once (Banse & Scherer 1996;
Juslin & Laukka 2003, Table 7); each cue alone has ordinary causes (a question's rising F0, the
handset moved closer, a read-out list spoken fast). So a turn is raised only when several cues
rise together.

Arrays in, arrays out: one value per turn of one party, NaN where a cue was not measured (a turn
under 1 s has no level, one with under 0.5 s voiced no F0, a call without ASR no rate).

- Each cue is put on a log scale (level in dB as it is; F0 in semitones, 12 log2(f0 / median);
  rate as ln(rate / median)), then its deviation from the party's median over its turns is
  divided by a robust spread: 1.4826 x the median absolute deviation (the SD of a normal sample),
  but never less than a floor per cue. Median and MAD, not mean and SD: the raised turns are the
  outliers being looked for, and with 5-20 turns one of them would pull a mean and an SD towards
  itself. The floor keeps a call of very even turns (MAD near 0) from calling a 1 dB rise
  "3 sigma": with the default floors and z = 2, a cue must also rise by at least 3 dB, 2
  semitones or 22 % to count.
- A cue is raised at z >= z_raised; a turn is raised when at least min_cues of its measured cues
  are; a turn with fewer than min_cues measured cues is not assessed. A cue with fewer than
  min_turns measured turns in the party has no baseline and counts as unmeasured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: 1.4826 x MAD estimates the SD of normally distributed values.
MAD_TO_SD = 1.4826
CUES = ("level", "f0", "rate")


@dataclass(frozen=True)
class TurnArousal:
    """Per turn of one party (arrays of equal length; NaN where unmeasured).

    level_rise_db, f0_rise_st, rate_rise: the turn's value minus the party's median (dB,
        semitones, natural log of the rate ratio).
    level_z, f0_z, rate_z: those rises over the cue's robust spread.
    assessed: at least min_cues cues measured; raised: assessed and at least min_cues of them
        at z >= z_raised.
    """

    level_rise_db: np.ndarray
    f0_rise_st: np.ndarray
    rate_rise: np.ndarray
    level_z: np.ndarray
    f0_z: np.ndarray
    rate_z: np.ndarray
    assessed: np.ndarray
    raised: np.ndarray

    def cues_up(self, i: int, *, z_raised: float) -> list[str]:
        """The cues of turn i at or over z_raised."""
        return [c for c, z in zip(CUES, (self.level_z[i], self.f0_z[i], self.rate_z[i])) if z >= z_raised]


def robust_rise(values: np.ndarray, *, spread_min: float, min_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Each value minus the median of the finite values, and that over max(1.4826 MAD,
    spread_min). All NaN when fewer than `min_values` values are finite."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    if finite.sum() < max(min_values, 1):
        nan = np.full(x.shape, np.nan)
        return nan, nan.copy()
    median = np.median(x[finite])
    mad = np.median(np.abs(x[finite] - median))
    rise = x - median
    return rise, rise / max(MAD_TO_SD * mad, spread_min)


def turn_arousal(
    level_dbfs,
    f0_hz,
    rate_syll_per_s,
    *,
    z_raised: float = 1.5,
    min_cues: int = 2,
    level_spread_min_db: float = 2.0,
    f0_spread_min_st: float = 1.0,
    rate_spread_min: float = 0.1,
    min_turns: int = 5,
) -> TurnArousal:
    """Rises and the raised verdict of each turn of one party (see the module docstring).
    `level_dbfs`, `f0_hz`, `rate_syll_per_s`: one value per turn, NaN (or None) where unmeasured."""
    level, f0, rate = (np.asarray([np.nan if v is None else v for v in a], dtype=np.float64).ravel()
                       for a in (level_dbfs, f0_hz, rate_syll_per_s))
    if not (len(level) == len(f0) == len(rate)):
        raise ValueError(f"level_dbfs, f0_hz and rate_syll_per_s have {len(level)}, {len(f0)} and {len(rate)} "
                         "values; give one per turn (NaN where unmeasured)")
    if not 1 <= min_cues <= len(CUES):
        raise ValueError(f"min_cues = {min_cues}; use 1 to {len(CUES)} (of level, F0, rate)")
    if min_turns < 2:
        raise ValueError(f"min_turns = {min_turns}; a median to deviate from needs 2 turns or more (5 is the default)")
    for name, v in (("z_raised", z_raised), ("level_spread_min_db", level_spread_min_db),
                    ("f0_spread_min_st", f0_spread_min_st), ("rate_spread_min", rate_spread_min)):
        if not v > 0:
            raise ValueError(f"{name} = {v!r} must be positive")
    with np.errstate(divide="ignore", invalid="ignore"):
        f0_st = np.where(f0 > 0, 12.0 * np.log2(f0), np.nan)
        log_rate = np.where(rate > 0, np.log(rate), np.nan)
    level_rise, level_z = robust_rise(level, spread_min=level_spread_min_db, min_values=min_turns)
    f0_rise, f0_z = robust_rise(f0_st, spread_min=f0_spread_min_st, min_values=min_turns)
    rate_rise, rate_z = robust_rise(log_rate, spread_min=rate_spread_min, min_values=min_turns)
    zs = np.vstack([level_z, f0_z, rate_z])
    measured = np.isfinite(zs).sum(axis=0)
    up = (np.nan_to_num(zs, nan=-np.inf) >= z_raised).sum(axis=0)
    assessed = measured >= min_cues
    return TurnArousal(
        level_rise_db=level_rise, f0_rise_st=f0_rise, rate_rise=rate_rise,
        level_z=level_z, f0_z=f0_z, rate_z=rate_z,
        assessed=assessed, raised=assessed & (up >= min_cues),
    )
