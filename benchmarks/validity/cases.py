"""The perturbations of the validity suite and what each must do to the score of a stereo call.

The expected amounts and their tolerances, and why:
- pitch flattened: PSOLA holds F0 at the median; what is left of the SD is the tracker's own
  jitter and PSOLA's period errors. The issue's bound, < 0.4x, leaves room for both.
- -12 dB: the P.56 level is a ratio of energies, so it moves by the gain exactly; +-1 dB allows
  for the speech/pause decision of P.56 near its threshold (a gain changes which frames pass).
- x1.35 faster: syllables stay, speech time falls by 1/1.35, pauses stay: articulation rate
  rises 1.35x; the rate ratio counts own pauses too, so it rises less. The issue's 1.25-1.45x
  holds the difference and the VAD's edges on shorter words.
- 6 s after a question: one more silence of at least dead_air_s, and the answer after it is a
  silence after a question; nothing else should be counted differently.
- an agent turn planted over a caller turn: exactly one more agent interruption, at the planted
  time (+-0.5 s: the VAD's onset on a copied stretch that starts at a word).
"""

from __future__ import annotations

import numpy as np

from benchmarks.validity import perturb as P
from benchmarks.validity.suite import Call, Case, Expect
from speechqa.call import CallResult
from speechqa.derive import OVERLAP_METRICS
from speechqa.lexicon import find, load_lexicon, tokenise

FACTOR = 1.35            # the speed-up
GAP_S = 6.0              # the inserted silence
GAIN_DB = -12.0


def _pitch_flat(call: Call, rng) -> np.ndarray:
    return P.flatten_speech(call.samples, call.agent, call.sample_rate_hz, call.speech("agent"))


def _quieter(call: Call, rng) -> np.ndarray:
    return P.scale_channel(call.samples, call.agent, GAIN_DB)


def _faster(party: str):
    def make(call: Call, rng) -> np.ndarray:
        channel = call.agent if party == "agent" else call.caller
        return P.speed_up_turns(call.samples, channel, call.sample_rate_hz, call.stretches(party),
                                call.speech(party), FACTOR, call.fill(channel), rng)
    return make


def _swap(call: Call, rng) -> np.ndarray:
    return P.swap_channels(call.samples)


def caller_question(call: Call) -> tuple[float, float]:
    """The end of the first caller question the agent answers after a gap under dead_air_s (so
    that the gap the case inserts is the only long one there), and the agent's reply onset."""
    agent = call.speech("agent")
    for u in call.result.measurement.utterances:
        if u.party != "caller" or not u.text.rstrip(' "\'').endswith("?"):
            continue
        later = agent[agent[:, 0] >= u.end_s - 0.05]
        if len(later) and later[0, 0] - u.end_s < 2.0:
            return u.end_s, float(later[0, 0])
    raise LookupError("no caller question answered promptly by the agent in this call")


def _silence_after_question(call: Call, rng) -> np.ndarray:
    end_s, reply_s = caller_question(call)
    at = end_s + min(0.2, max(0.0, (reply_s - end_s) / 2))   # inside the gap, clear of both words
    return P.insert_silence(call.samples, call.sample_rate_hz, at, GAP_S,
                            [call.fill(0), call.fill(1)], rng)


def greeting_words(call: Call) -> list[tuple[float, float]]:
    """The times of the words of each greeting phrase the agent says (the shipped lexicon)."""
    m = call.result.measurement
    lexicon = load_lexicon(m.language)
    spans = []
    for u in m.utterances:
        if u.party != "agent" or not u.words:
            continue
        tokens, owner = [], []
        for i, w in enumerate(u.words):
            found = tokenise(w.text, language=m.language)
            tokens += found
            owner += [i] * len(found)
        for start, end in find(lexicon, "greeting", tokens):
            spans.append((u.words[owner[start]].start_s, u.words[owner[end - 1]].end_s))
    if not spans:
        raise LookupError("the agent says no greeting the recogniser heard in this call")
    return spans


def _no_greeting(call: Call, rng) -> np.ndarray:
    out = call.samples
    for start, end in greeting_words(call):
        out = P.blank(out, call.agent, call.sample_rate_hz, start - 0.05, end + 0.05, call.fill(call.agent), rng)
    return out


def planted_interruption(call: Call) -> tuple[float, tuple[float, float]]:
    """Where to plant, and what: 1 s into the longest caller turn, over 2 s of which the agent is
    silent, a 1.5-2.5 s agent speech stretch from later in the call."""
    agent = call.speech("agent")
    turns = sorted(call.turns("caller"), key=lambda t: t[0] - t[1])
    for start, end in turns:
        at = start + 1.0
        if end - at < 2.5 or np.any((agent[:, 0] < at + 3.0) & (agent[:, 1] > at - 0.5)):
            continue
        for s, e in agent:
            if s > end and 1.5 <= e - s:
                return at, (float(s), float(min(e, s + 2.5)))
    raise LookupError("no caller turn with 3 s of agent silence to plant an interruption in")


def _interruption(call: Call, rng) -> np.ndarray:
    at, source = planted_interruption(call)
    return P.overlay(call.samples, call.agent, call.sample_rate_hz, source, at)


def _interruption_at(call: Call, perturbed: CallResult) -> list[str]:
    at, _ = planted_interruption(call)
    times = [e.start_s for e in perturbed.assessment.derived.events
             if e.kind == "interruption" and e.party == "agent"]
    return [] if any(abs(t - at) <= 0.5 for t in times) else [f"no agent interruption within 0.5 s of {at:.1f} s"]


def _mono(call: Call, rng) -> np.ndarray:
    return P.mix_mono(call.samples)


# The mono issue's (11) bounds for a diarized mix of a stereo call against the stereo call.
MONO_BOUNDS = (("agent_talk_share", 0.05), ("level_diff_db", 3.0), ("agent_latency_median_s", 0.3))


def _within_mono_bounds(call: Call, perturbed: CallResult) -> list[str]:
    problems = []
    if not perturbed.measurement.diarized:
        return ["the mix was not diarized"]
    for name, bound in MONO_BOUNDS:
        before, after = call.metric(name), perturbed.metrics[name]
        if after is None or abs(after - before) > bound:
            problems.append(f"{name} {before} -> {after}: beyond the mono bound {bound:g}")
    level = (call.metric("level_diff_db"), perturbed.metrics["level_diff_db"])
    if None not in level and np.sign(level[0]) != np.sign(level[1]) and abs(level[0]) > 1.0:
        problems.append(f"level_diff_db changed sign: {level[0]:.2f} -> {level[1]:.2f}")
    return problems


def _overlap_abstains(call: Call) -> tuple[tuple[str, str], ...]:
    return tuple((v.id, "abstain") for v in call.result.verdicts if v.metric in OVERLAP_METRICS)


LEVEL = ("agent_level_dbfs", "agent_loudness_lufs", "level_diff_pair_median_db", "agent_noise_floor_dbfs",
         "snr_db", "level_match_slope_db_per_min")
# PSOLA's resynthesis of the quiet frames inside speech stretches lifts the agent's noise floor
# (the 10th percentile of all its frames) by about 3 dB: an effect of the perturbation, not of
# the pitch, so the floor and the SNR on it may move.
PITCH = ("agent_f0_median_hz", "agent_f0_range_st", "agent_noise_floor_dbfs", "snr_db")
TIMING_OF = {party: (f"{party}_talk_s", "agent_talk_share", f"{party}_pauses_per_min", f"{party}_pause_mean_s",
                     f"{party}_pause_median_s", f"{party}_long_pauses", f"{party}_monologue_max_s", "speech_s",
                     f"{party}_voiced_s", f"{party}_rate_wpm", f"{party}_rate_syll_per_s", "rate_ratio_pair_median",
                     "rate_match_slope_per_min", "overtalk_s", "overtalk_episodes")
             for party in ("agent", "caller")}
# A shorter turn ends earlier: the other party's reply after it starts later.
LATER_REPLY = {"agent": ("caller_latency_median_s", "caller_slow_replies", "silence_total_s", "silence_max_s",
                         "silence_count", "silence_share", "agent_interruptions", "caller_interruptions"),
               "caller": ("agent_latency_median_s", "agent_slow_replies", "silence_total_s", "silence_max_s",
                          "silence_count", "silence_share", "agent_interruptions", "caller_interruptions")}
GAP = ("duration_s", "silence_total_s", "silence_max_s", "silence_share", "agent_latency_median_s",
       "agent_slow_replies", "level_match_slope_db_per_min", "rate_match_slope_per_min")
PLANTED = ("agent_talk_s", "agent_talk_share", "agent_turns", "caller_turns", "turns_total", "overtalk_s",
           "overtalk_episodes", "agent_words", "words_total", "agent_voiced_s", "speech_s", "agent_latency_median_s",
           "caller_latency_median_s", "agent_monologue_max_s", "caller_monologue_max_s", "level_pairs", "rate_pairs",
           "agent_backchannels", "caller_backchannels", "agent_backchannels_in_caller_turns")


def stereo_cases(call: Call) -> tuple[Case, ...]:
    """The perturbations of one real stereo call, in the issue's order."""
    return (
        Case("agent_pitch_flat", "agent F0 held at its median (PSOLA)", _pitch_flat,
             (Expect("agent_f0_sd_st", "ratio", 0.0, 0.4),),
             own=PITCH),
        Case("agent_minus_12db", "agent channel -12 dB", _quieter,
             (Expect("level_diff_db", "delta", GAIN_DB - 1, GAIN_DB + 1),),
             own=LEVEL),
        Case("agent_faster", "agent turns x1.35 faster in place (PSOLA), pauses kept", _faster("agent"),
             (Expect("agent_articulation_syll_per_s", "ratio", 1.25, 1.45), Expect("rate_ratio", "ratio", 1.25, 1.45)),
             own=TIMING_OF["agent"] + LATER_REPLY["agent"], needs_words=True),
        Case("caller_faster", "caller turns x1.35 faster in place: the pace gap closes", _faster("caller"),
             (Expect("caller_articulation_syll_per_s", "ratio", 1.25, 1.45),
              Expect("rate_ratio", "ratio", 1 / 1.45, 1 / 1.25)),
             own=TIMING_OF["caller"] + LATER_REPLY["caller"], needs_words=True),
        Case("channels_swapped", "left and right exchanged", _swap, (), roles="swapped"),
        greeting_case(),
        Case("interruption_planted", "an agent stretch from later copied over a caller turn", _interruption,
             (Expect("agent_interruptions", "delta", 1, 1),), own=PLANTED, check=_interruption_at),
        # Overlap cannot be told apart in one channel (issue 11): those metrics go null, their
        # criteria abstain; the rest must stay within the mono issue's bounds.
        Case("mixed_to_mono", "both channels summed into one, diarized", _mono, (),
             flips=_overlap_abstains(call), own=OVERLAP_METRICS, roles="any",
             check=_within_mono_bounds),
    )


def question_case() -> Case:
    """Silence after a caller's question. Neither stereo call here (lca49, the English sample) has a caller
    question the recogniser ends with "?", so the suite runs this case on lca49 with
    the roles reversed by configuration: the agent's real questions stand in for a caller's, and
    the reply that the silence delays is the caller's. What the case checks (a question found in
    the words, the silence after it, the criterion on it) is the same either way."""
    return Case("silence_after_question", f"{GAP_S:g} s of silence after a caller's question",
                _silence_after_question,
                (Expect("silence_count", "delta", 1, 1), Expect("agent_silences_after_question", "delta", 1, 1)),
                own=GAP, needs_words=True)


def greeting_case() -> Case:
    return Case("greeting_cut", "the agent's greeting words replaced by its background", _no_greeting,
                (Expect("agent_greeting", "value", 0, 0),),
                own=("agent_words", "words_total", "agent_rate_wpm", "agent_rate_syll_per_s",
                     "agent_articulation_syll_per_s", "rate_ratio", "agent_pauses_per_min",
                     "agent_pause_mean_s", "agent_pause_median_s", "asr_confidence"),
                needs_words=True)
