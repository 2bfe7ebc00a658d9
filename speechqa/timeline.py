"""Conversation timing from two speech timelines: turns, silences, overtalk, interruptions,
backchannels, response latency and pauses (definitions: shared/docs/criteria.md).

Input is each party's speech as (n, 2) [start_s, end_s] intervals, already bridged. Everything
here is pure interval arithmetic. Turns (and the backchannels found with them) are measured under
[measure.turns], because each turn's level and pitch need the audio; the rest is derived from
the stored speech and turns under [score.timing], so `rescore` can re-run it with new thresholds
and no audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.names import BACKCHANNEL, INTERRUPTION, OVERTALK, PARTIES, PAUSE, SILENCE
from speechqa.options import TimingOptions, TurnOptions

# The metrics each function here produces (speechqa.metrics checks that they all come).
SILENCE_METRICS = ("silence_total_s", "silence_share", "silence_count", "silence_max_s")
TIMING_METRICS = (
    *SILENCE_METRICS, "overtalk_s", "overtalk_episodes", "agent_talk_share",
    *(f"{p}_{name}" for p in PARTIES for name in (
        "talk_s", "turns", "monologue_max_s", "interruptions", "backchannels", "latency_median_s", "slow_replies",
        "pauses_per_min", "pause_mean_s", "pause_median_s", "long_pauses")),
)


@dataclass(frozen=True)
class Turn:
    party: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Event:
    """A moment of the call: kind is silence, overtalk, interruption, backchannel or pause."""

    kind: str
    party: str | None
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    events: tuple[Event, ...]
    metrics: dict[str, float | int | None]


def bridge_gaps(intervals: np.ndarray, *, max_gap_s: float) -> np.ndarray:
    """Merge intervals (sorted by start) separated by gaps shorter than max_gap_s."""
    intervals = _as_intervals(intervals)
    if len(intervals) < 2:
        return intervals
    # A gap is measured from the furthest end so far, not the previous interval's: an interval
    # inside a longer one must not end the merged one early ([0, 10], [1, 2], [5, 6] is [0, 10]).
    gaps = intervals[1:, 0] - np.maximum.accumulate(intervals[:-1, 1])
    starts_new = np.concatenate([[True], gaps >= max_gap_s])
    starts = intervals[starts_new, 0]
    ends = np.maximum.reduceat(intervals[:, 1], np.flatnonzero(starts_new))
    return np.column_stack([starts, ends])


def union(*interval_sets: np.ndarray) -> np.ndarray:
    """The time covered by any of the interval sets, as sorted disjoint intervals."""
    stacked = np.concatenate([_as_intervals(s) for s in interval_sets])
    if len(stacked) == 0:
        return stacked
    stacked = stacked[np.argsort(stacked[:, 0], kind="stable")]
    return bridge_gaps(stacked, max_gap_s=1e-9)


def intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The time covered by both interval sets."""
    a, b = _as_intervals(a), _as_intervals(b)
    if len(a) == 0 or len(b) == 0:
        return _as_intervals([])
    # The intervals of `a` before the first that ends at or after b's first start meet nothing in
    # b, and the walk would step over each of them: a word against a call's whole speech took a
    # Python step per earlier stretch of speech.
    reached = a[:, 1] >= b[0, 0]
    out, i, j = [], int(np.argmax(reached)) if reached.any() else len(a), 0
    while i < len(a) and j < len(b):
        start, end = max(a[i, 0], b[j, 0]), min(a[i, 1], b[j, 1])
        if end > start:
            out.append((start, end))
        if a[i, 1] < b[j, 1]:
            i += 1
        else:
            j += 1
    return _as_intervals(out)


def subtract(a: np.ndarray, b: np.ndarray, *, min_s: float = 0.0) -> np.ndarray:
    """The time of `a` not covered by `b`, keeping pieces of at least min_s."""
    a, b = _as_intervals(a), union(b)
    pieces = []
    for start, end in a:
        cursor = start
        for b_start, b_end in b[(b[:, 1] > start) & (b[:, 0] < end)]:
            if b_start > cursor:
                pieces.append((cursor, b_start))
            cursor = max(cursor, b_end)
        if end > cursor:
            pieces.append((cursor, end))
    out = _as_intervals(pieces)
    return out[out[:, 1] - out[:, 0] >= min_s] if len(out) else out


def total_s(intervals: np.ndarray) -> float:
    intervals = _as_intervals(intervals)
    return float(np.sum(intervals[:, 1] - intervals[:, 0])) if len(intervals) else 0.0


def silences(speech: np.ndarray, *, min_s: float) -> np.ndarray:
    """Gaps of at least min_s between speech, inside the first-to-last speech span."""
    speech = union(speech)
    if len(speech) < 2:
        return np.zeros((0, 2))
    gaps = np.column_stack([speech[:-1, 1], speech[1:, 0]])
    return gaps[gaps[:, 1] - gaps[:, 0] >= min_s]


def silence_metrics(speech: np.ndarray, *, options: TimingOptions) -> tuple[dict, list[Event]]:
    """Dead air of the call from the speech of everyone in it (works for mono calls too)."""
    speech = union(speech)
    dead_air = silences(speech, min_s=options.dead_air_s)
    span_s = float(speech[-1, 1] - speech[0, 0]) if len(speech) else 0.0
    lengths = dead_air[:, 1] - dead_air[:, 0]
    metrics = {
        "silence_total_s": float(lengths.sum()),
        "silence_share": float(lengths.sum() / span_s) if span_s > 0 else None,
        "silence_count": int(len(lengths)),
        "silence_max_s": float(lengths.max()) if len(lengths) else 0.0,
    }
    events = [Event(SILENCE, None, float(s), float(e)) for s, e in dead_air]
    return metrics, events


def find_turns(speech: dict[str, np.ndarray], *, options: TurnOptions) -> tuple[list[Turn], list[Event]]:
    """Split the call into turns and find backchannels (criteria.md, "turn" and "backchannel")."""
    segments = sorted(
        (float(s), float(e), party) for party, ivs in speech.items() for s, e in _as_intervals(ivs)
    )
    turns: list[Turn] = []
    backchannels: list[Event] = []
    current: list = []   # [party, start_s, end_s] of the turn being built
    pending: list = []   # the other party's short speech, not yet known as backchannel or turn

    def settle_pending(turn_goes_on: bool):
        # Short speech inside a turn that then goes on is a backchannel; after the turn's own
        # end, with the floor left empty, it is a short turn of its own ("OK.").
        nonlocal pending
        inside = [p for p in pending if turn_goes_on or p[0] <= current[2]]
        after = [p for p in pending if p not in inside]
        backchannels.extend(Event(BACKCHANNEL, p[2], p[0], p[1]) for p in inside)
        if after:
            turns.append(Turn(current[0], current[1], current[2]))
            current[:] = [after[0][2], after[0][0], max(p[1] for p in after)]
        pending = []

    for seg in segments:
        start, end, party = seg
        if not current:
            current = [party, start, end]
        elif party == current[0]:
            ended = start - current[2] > options.turn_end_silence_s
            settle_pending(turn_goes_on=not ended)
            if party != current[0] or ended:
                turns.append(Turn(*current))
                current = [party, start, end]
            else:
                current[2] = max(current[2], end)
        else:
            if pending and start - pending[-1][1] > options.turn_end_silence_s:
                settle_pending(turn_goes_on=False)
                if party == current[0]:
                    current[2] = max(current[2], end)
                    continue
            pending.append(seg)
            if sum(p[1] - p[0] for p in pending) > options.floor_take_s:
                turns.append(Turn(*current))
                current = [party, pending[0][0], max(p[1] for p in pending)]
                pending = []
    if current:
        settle_pending(turn_goes_on=False)
        turns.append(Turn(*current))
    return turns, backchannels


def interruptions(turns: list[Turn], speech: dict[str, np.ndarray], *, options: TimingOptions) -> list[Event]:
    """Turns that start while the other party is still speaking, past line delay and grace."""
    found = []
    for previous, turn in zip(turns, turns[1:]):
        if previous.party == turn.party:
            continue
        other = _as_intervals(speech[previous.party])
        own = _as_intervals(speech[turn.party])
        onset = turn.start_s
        covering = other[(other[:, 0] <= onset) & (other[:, 1] > onset)]
        if len(covering) == 0 or covering[0, 1] - onset < options.line_delay_s:
            continue
        own_now = own[(own[:, 0] <= onset) & (own[:, 1] > onset)]
        overlap_end = min(covering[0, 1], own_now[0, 1] if len(own_now) else onset)
        if overlap_end - onset > options.interruption_grace_s:
            found.append(Event(INTERRUPTION, turn.party, onset, float(overlap_end)))
    return found


def analyse_conversation(
    speech: dict[str, np.ndarray], turns: tuple[Turn, ...], backchannels: tuple[Event, ...], *, options: TimingOptions
) -> Conversation:
    """Every timing metric (TIMING_METRICS) of a two-party call from each party's bridged speech
    intervals and the turns and backchannels that find_turns measured on them."""
    speech = {party: _as_intervals(speech[party]) for party in PARTIES}
    turns, backchannels = list(turns), list(backchannels)
    interrupts = interruptions(turns, speech, options=options)
    metrics, events = silence_metrics(union(*speech.values()), options=options)
    events += backchannels + interrupts

    overlap = intersection(speech["agent"], speech["caller"])
    episodes = overlap[overlap[:, 1] - overlap[:, 0] >= options.overtalk_episode_min_s]
    metrics["overtalk_s"] = total_s(overlap)
    metrics["overtalk_episodes"] = int(len(episodes))
    events += [Event(OVERTALK, None, float(s), float(e)) for s, e in episodes]

    talk = {party: total_s(speech[party]) for party in PARTIES}
    both = talk["agent"] + talk["caller"]
    metrics["agent_talk_share"] = talk["agent"] / both if both > 0 else None
    latencies = _latencies(turns)
    for party in PARTIES:
        own_turns = [t for t in turns if t.party == party]
        lat = latencies[party]
        metrics[f"{party}_talk_s"] = talk[party]
        metrics[f"{party}_turns"] = len(own_turns)
        metrics[f"{party}_monologue_max_s"] = max((t.duration_s for t in own_turns), default=None)
        metrics[f"{party}_interruptions"] = sum(e.party == party for e in interrupts)
        metrics[f"{party}_backchannels"] = sum(e.party == party for e in backchannels)
        metrics[f"{party}_latency_median_s"] = float(np.median(lat)) if lat else None
        metrics[f"{party}_slow_replies"] = int(sum(x > options.slow_reply_s for x in lat))
        pause_metrics, pause_events = pauses(speech[party], own_turns, party=party, options=options)
        metrics.update(pause_metrics)
        events += pause_events
    events.sort(key=lambda e: (e.start_s, e.kind))
    return Conversation(turns=tuple(turns), events=tuple(events), metrics=metrics)


def pauses(speech: np.ndarray, turns: list[Turn], *, party: str, options: TimingOptions) -> tuple[dict, list[Event]]:
    """Silent gaps of at least pause_min_s between one party's speech inside its own turns."""
    gaps = silences(speech, min_s=options.pause_min_s)
    inside = np.zeros(len(gaps), dtype=bool)
    for turn in turns:
        inside |= (gaps[:, 0] >= turn.start_s) & (gaps[:, 1] <= turn.end_s)
    gaps = gaps[inside]
    lengths = gaps[:, 1] - gaps[:, 0]
    talk_min = total_s(speech) / 60.0
    has_speech = talk_min > 0
    metrics = {
        f"{party}_pauses_per_min": float(len(lengths) / talk_min) if has_speech else None,
        f"{party}_pause_mean_s": float(lengths.mean()) if len(lengths) else None,
        f"{party}_pause_median_s": float(np.median(lengths)) if len(lengths) else None,
        f"{party}_long_pauses": int(np.sum(lengths >= options.long_pause_s)) if has_speech else None,
    }
    return metrics, [Event(PAUSE, party, float(s), float(e)) for s, e in gaps]


def _latencies(turns: list[Turn]) -> dict[str, list[float]]:
    """Reply latency per replying party: its turn start minus the other's previous turn end."""
    out: dict[str, list[float]] = {party: [] for party in PARTIES}
    for previous, turn in zip(turns, turns[1:]):
        if previous.party != turn.party:
            out[turn.party].append(turn.start_s - previous.end_s)
    return out


def _as_intervals(intervals) -> np.ndarray:
    array = np.asarray(intervals, dtype=np.float64)
    return array.reshape(-1, 2)
