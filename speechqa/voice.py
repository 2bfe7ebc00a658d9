"""Voice and tone metrics of a two-party call: arousal per turn, emphasis per word.

From what speechqa.measure stored, under [score.arousal] and [score.emphasis]; no audio. The
arrays' arithmetic is in speechqa.features.arousal and speechqa.features.emphasis; this module
picks each party's turns and words, and turns the per-turn and per-word verdicts into metrics,
evidence (the raised turns, the prominent words, the flat turns) and notes.

Arousal rests on the stored turn rows (level, median F0, articulation rate and words of each
turn), so a call measured before this module rescored gets it too. Emphasis rests on each word's
F0 peak and level, stored in the words rows since they were added; older rows have none, and
the emphasis metrics of such a call are unmeasured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechqa.features.arousal import turn_arousal
from speechqa.features.emphasis import prominence
from speechqa.names import PARTIES
from speechqa.options import ArousalOptions, EmphasisOptions
from speechqa.pii import PLACEHOLDERS
from speechqa.rate import assign_words, count_syllables
from speechqa.timeline import Turn, intersection, total_s

AROUSAL_METRICS = (
    *(f"{p}_{name}" for p in PARTIES for name in ("arousal_turns", "raised_turns", "raised_share")),
    "agent_answers_to_raised", "agent_raised_share_answering_raised",
)
EMPHASIS_METRICS = (
    *(f"{p}_{name}" for p in PARTIES for name in ("emphasis_words", "prominent_words", "prominent_per_min",
                                                   "emphasis_utterances", "emphasis_utterance_share")),
    "agent_long_turns", "agent_flat_turn_share",
)
NO_RAISED_CALLER = "the caller had no raised turn answered by an assessed agent turn"
NO_WORD_ACOUSTICS = "no word acoustics stored (measured before speechqa stored them): measure the call again"
_MOST = 5   # evidence moments per metric
PHRASE_END = ".,!?;:…"   # a word ending in one of these ends a phrase


@dataclass(frozen=True)
class VoiceResult:
    metrics: dict[str, float | int | None]
    evidence: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)   # metric -> why it is None, where not "too little"


def arousal_metrics(turns, speech: dict[str, np.ndarray], *, options: ArousalOptions) -> VoiceResult:
    """AROUSAL_METRICS from the measured turns (speechqa.measure.TurnStats) and each party's speech.
    A party's raised share is the share of its speech in its assessed turns that lies in its
    raised turns; the agent's share answering raised is the same over the agent turns that
    directly follow a raised caller turn."""
    turns = sorted(turns, key=lambda t: t.start_s)
    metrics, evidence, notes = {}, {}, {}
    state = {}   # turn index in `turns` -> (assessed, raised, speech_s, description)
    for party in PARTIES:
        index = [i for i, t in enumerate(turns) if t.party == party]
        own = [turns[i] for i in index]
        rate = [t.articulation_syll_per_s if (t.words or 0) >= options.rate_min_words else None for t in own]
        found = turn_arousal(
            [t.level_dbfs for t in own], [t.f0_median_hz for t in own], rate,
            z_raised=options.z_raised, min_cues=options.min_cues, level_spread_min_db=options.level_spread_min_db,
            f0_spread_min_st=options.f0_spread_min_st, rate_spread_min=options.rate_spread_min,
            min_turns=options.min_turns,
        )
        for k, (i, t) in enumerate(zip(index, own)):
            spoken = total_s(intersection(speech[party], np.array([[t.start_s, t.end_s]])))
            state[i] = (bool(found.assessed[k]), bool(found.raised[k]), spoken, _describe(found, k))
        assessed = [i for i in index if state[i][0]]
        raised = sorted((i for i in assessed if state[i][1]), key=lambda i: -_peak_z(found, index.index(i)))
        spoken = sum(state[i][2] for i in assessed)
        metrics[f"{party}_arousal_turns"] = len(assessed)
        metrics[f"{party}_raised_turns"] = len(raised)
        metrics[f"{party}_raised_share"] = sum(state[i][2] for i in raised) / spoken if spoken > 0 else None
        moments = [_moment(turns[i]) for i in raised[:_MOST]]
        evidence[f"{party}_raised_share"] = evidence[f"{party}_raised_turns"] = moments
        if raised:
            notes[f"{party}_raised_share"] = notes[f"{party}_raised_turns"] = "raised: " + "; ".join(
                f"{turns[i].start_s:.1f}-{turns[i].end_s:.1f} s ({state[i][3]})" for i in raised[:3])
    answers = [(c, a) for c, a in zip(range(len(turns)), range(1, len(turns)))
               if (turns[c].party, turns[a].party) == ("caller", "agent") and state[c][1] and state[a][0]]
    spoken = sum(state[a][2] for _, a in answers)
    metrics["agent_answers_to_raised"] = len(answers)
    metrics["agent_raised_share_answering_raised"] = (
        sum(state[a][2] for _, a in answers if state[a][1]) / spoken if spoken > 0 else None)
    worst = sorted(answers, key=lambda ca: not state[ca[1]][1])   # raised answers first
    evidence["agent_raised_share_answering_raised"] = [
        (round(turns[c].start_s, 2), round(turns[a].end_s, 2)) for c, a in worst[:_MOST]]
    if answers:
        notes["agent_raised_share_answering_raised"] = "; ".join(
            f"caller raised {turns[c].start_s:.1f} s ({state[c][3]}), agent "
            + (f"raised too ({state[a][3]})" if state[a][1] else "stayed calm") for c, a in worst[:3])
    reasons = {} if answers else {"agent_raised_share_answering_raised": NO_RAISED_CALLER}
    return VoiceResult(metrics=metrics, evidence=evidence, notes=notes, reasons=reasons)


def emphasis_metrics(utterances, turns: tuple[Turn, ...], speech: dict[str, np.ndarray], *, language: str,
                     options: EmphasisOptions) -> VoiceResult:
    """EMPHASIS_METRICS from the stored words (with their F0 peaks and levels), the turns and each
    party's speech. A word's duration is its time inside its party's speech (the recogniser's word
    times often take in the pause before or after a word); a word that ends a phrase (the last of
    its utterance, or followed by punctuation) has no duration cue, since phrase-final lengthening
    stretches it without emphasis."""
    metrics, evidence, notes = {}, {}, {}
    prominent_ids: set[int] = set()
    assessed_ids: set[int] = set()
    has_acoustics = any(w.level_dbfs is not None for u in utterances for w in u.words)
    for party in PARTIES:
        n_words = n_prominent = n_utt = n_utt_with = 0
        utt_s = 0.0
        found = []   # (rise score, word, description)
        for u in utterances:
            if u.party != party:
                continue
            found_u = utterance_prominence(u, speech[party], language=language, options=options)
            if found_u is None:
                continue
            words, p = found_u
            n_utt += 1
            utt_s += u.end_s - u.start_s
            n_words += int(p.assessed.sum())
            n_prominent += int(p.prominent.sum())
            n_utt_with += bool(p.prominent.any())
            for k, w in enumerate(words):
                if p.assessed[k]:
                    assessed_ids.add(id(w))
                if p.prominent[k]:
                    prominent_ids.add(id(w))
                    score = np.nansum([p.f0_rise_st[k] / options.f0_rise_st, p.level_rise_db[k] / options.level_rise_db,
                                       np.log(p.duration_ratio[k]) / np.log(options.duration_ratio)])
                    found.append((score, w, f"{w.text.strip()!r} at {w.start_s:.1f} s: " + _cues(p, k)))
        metrics[f"{party}_emphasis_words"] = n_words
        metrics[f"{party}_prominent_words"] = n_prominent if n_words else None
        metrics[f"{party}_prominent_per_min"] = 60.0 * n_prominent / utt_s if utt_s > 0 else None
        metrics[f"{party}_emphasis_utterances"] = n_utt
        metrics[f"{party}_emphasis_utterance_share"] = n_utt_with / n_utt if n_utt else None
        found.sort(key=lambda f: -f[0])
        evidence[f"{party}_prominent_per_min"] = evidence[f"{party}_prominent_words"] = [
            (round(w.start_s, 2), round(w.end_s, 2)) for _, w, _ in found[:_MOST]]
        if found:
            notes[f"{party}_prominent_per_min"] = notes[f"{party}_prominent_words"] = "most prominent: " + "; ".join(
                d for _, _, d in found[:3])
    agent_turns = [t for t in turns if t.party == "agent"]
    long_turns, flat = [], []
    for t, bucket in zip(agent_turns, assign_words([w for u in utterances if u.party == "agent" for w in u.words],
                                                   agent_turns)):
        if t.end_s - t.start_s < options.flat_turn_min_s or sum(id(w) in assessed_ids for w in bucket) < options.min_words:
            continue
        long_turns.append(t)
        if not any(id(w) in prominent_ids for w in bucket):
            flat.append(t)
    metrics["agent_long_turns"] = len(long_turns)
    metrics["agent_flat_turn_share"] = len(flat) / len(long_turns) if long_turns else None
    flat.sort(key=lambda t: t.start_s - t.end_s)
    evidence["agent_flat_turn_share"] = [_moment(t) for t in flat[:_MOST]]
    if long_turns:
        notes["agent_flat_turn_share"] = (f"{len(flat)} of {len(long_turns)} agent turns of "
                                          f"{options.flat_turn_min_s:g} s or more with no prominent word")
    if not has_acoustics and any(_is_word(w) for u in utterances for w in u.words):
        return VoiceResult(metrics=dict.fromkeys(EMPHASIS_METRICS), reasons=dict.fromkeys(EMPHASIS_METRICS, NO_WORD_ACOUSTICS))
    return VoiceResult(metrics=metrics, evidence=evidence, notes=notes)


def utterance_prominence(u, speech: np.ndarray, *, language: str, options: EmphasisOptions):
    """(words, Prominence) of one utterance's words (placeholders and punctuation left out), or
    None when fewer than min_words of them could be assessed."""
    words = [w for w in u.words if _is_word(w)]
    if len(words) < options.min_words:
        return None
    p = prominence(
        [w.f0_peak_hz for w in words], [w.level_dbfs for w in words],
        _durations(words, speech), [count_syllables(w.text, language=language) for w in words],
        neighbours=options.neighbours, min_neighbours=options.min_neighbours, f0_rise_st=options.f0_rise_st,
        level_rise_db=options.level_rise_db, duration_ratio=options.duration_ratio, min_cues=options.min_cues,
    )
    return None if p.assessed.sum() < options.min_words else (words, p)


def prominent_words(utterances, speech: dict[str, np.ndarray], *, party: str, language: str,
                    options: EmphasisOptions) -> list[tuple[str, bool]]:
    """(text, prominent) of each assessed word of the party, in order (for validation)."""
    out = []
    for u in utterances:
        found = utterance_prominence(u, speech[party], language=language, options=options) if u.party == party else None
        if found is not None:
            words, p = found
            out += [(w.text.strip(), bool(p.prominent[k])) for k, w in enumerate(words) if p.assessed[k]]
    return out


def _durations(words, speech: np.ndarray) -> list[float]:
    """Each word's time inside the party's speech; NaN for a phrase-final word."""
    out = []
    for k, w in enumerate(words):
        final = k == len(words) - 1 or w.text.strip()[-1] in PHRASE_END
        out.append(np.nan if final else total_s(intersection(speech, np.array([[w.start_s, w.end_s]]))))
    return out


def _cues(p, k: int) -> str:
    """A prominent word's measured cues, as the note shows them."""
    parts = [f"F0 {p.f0_rise_st[k]:+.1f} st" if np.isfinite(p.f0_rise_st[k]) else "",
             f"level {p.level_rise_db[k]:+.1f} dB" if np.isfinite(p.level_rise_db[k]) else "",
             f"duration x{p.duration_ratio[k]:.2f}" if np.isfinite(p.duration_ratio[k]) else ""]
    return ", ".join(part for part in parts if part)


def _is_word(w) -> bool:
    """A spoken word with letters or digits, not a PII placeholder (its time spans several words)."""
    text = w.text.strip()
    return any(ch.isalnum() for ch in text) and not any(ph in text for ph in PLACEHOLDERS.values())


def _peak_z(found, k: int) -> float:
    return float(np.nanmax([found.level_z[k], found.f0_z[k], found.rate_z[k], -np.inf]))


def _describe(found, k: int) -> str:
    parts = []
    if np.isfinite(found.level_z[k]):
        parts.append(f"level {found.level_rise_db[k]:+.1f} dB, z {found.level_z[k]:.1f}")
    if np.isfinite(found.f0_z[k]):
        parts.append(f"F0 {found.f0_rise_st[k]:+.1f} st, z {found.f0_z[k]:.1f}")
    if np.isfinite(found.rate_z[k]):
        parts.append(f"rate {100 * np.expm1(found.rate_rise[k]):+.0f} %, z {found.rate_z[k]:.1f}")
    return ", ".join(parts)


def _moment(t) -> tuple[float, float]:
    return (round(t.start_s, 2), round(t.end_s, 2))
