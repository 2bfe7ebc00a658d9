"""The one list of metric names: what each means, its unit and type, and what supports it.

These names are the keys of `score --json` "metrics" and the columns of the warehouse.
Counts are integers, measures floats, unmeasurable values None.
"""

from __future__ import annotations

from dataclasses import dataclass

from speechqa.names import PARTIES


@dataclass(frozen=True)
class MetricSpec:
    name: str
    dtype: str          # "int" or "float"
    description: str
    support: str | None  # the metric whose value tells how much evidence this one rests on


def _party(template: str, dtype: str, description: str, support: str | None) -> list[MetricSpec]:
    return [
        MetricSpec(
            template.format(p=party),
            dtype,
            description.format(p=party),
            support.format(p=party) if support else None,
        )
        for party in PARTIES
    ]


def _build() -> tuple[MetricSpec, ...]:
    specs = [
        MetricSpec("duration_s", "float", "length of the recording", None),
        MetricSpec("speech_s", "float", "time anyone speaks (union of both parties; all speech of a mono call)", None),
        *_party("{p}_talk_s", "float", "time the {p} speaks (VAD on the {p}'s channel, gaps < 0.25 s bridged)", None),
        MetricSpec("agent_talk_share", "float", "agent talk / (agent + caller talk)", "speech_s"),
        *_party("{p}_turns", "int", "turns the {p} takes", None),
        *_party("{p}_monologue_max_s", "float", "the {p}'s longest turn", "{p}_turns"),
        MetricSpec("silence_total_s", "float", "dead air: sum of silences >= T (dead_air_s) inside the first-to-last speech span", "speech_s"),
        MetricSpec("silence_share", "float", "silence_total_s / first-to-last speech span", "speech_s"),
        MetricSpec("silence_count", "int", "number of silences >= T", "speech_s"),
        MetricSpec("silence_max_s", "float", "longest silence (0 when none reaches T)", "speech_s"),
        MetricSpec("overtalk_s", "float", "time both parties speak at once", "speech_s"),
        MetricSpec("overtalk_episodes", "int", "stretches of overtalk of at least overtalk_episode_min_s", "speech_s"),
        *_party("{p}_interruptions", "int", "turns the {p} starts while the other still speaks (past line delay and grace)", "turns_total"),
        *_party("{p}_backchannels", "int", "short speech (<= 1 s) of the {p} inside the other's turn, which goes on", "turns_total"),
        *_party("{p}_latency_median_s", "float", "median gap from the other's turn end to the {p}'s reply (negative: overlap)", "{p}_turns"),
        *_party("{p}_slow_replies", "int", "replies of the {p} slower than slow_reply_s", "{p}_turns"),
        MetricSpec("turns_total", "int", "turns of both parties", None),
        *_party("{p}_level_dbfs", "float", "active speech level, ITU-T P.56 method B, over the {p}'s speech, gain offset applied", "{p}_talk_s"),
        *_party("{p}_loudness_lufs", "float", "integrated loudness, ITU-R BS.1770-4, over the {p}'s turns >= 0.4 s", "{p}_talk_s"),
        *_party("{p}_noise_floor_dbfs", "float", "the noise floor of the {p}'s channel, the one the VAD gates on (10th percentile of its 32 ms frame levels; None when that is digital silence)", None),
        MetricSpec("level_diff_db", "float", "agent level - caller level (P.56); positive: the agent is louder", "level_support_s"),
        MetricSpec("level_diff_pair_median_db", "float", "median over adjacent caller->agent turn pairs (turns >= 1 s) of agent - caller turn level", "level_pairs"),
        MetricSpec("level_pairs", "int", "caller->agent turn pairs with both turns >= 1 s", None),
        MetricSpec("level_support_s", "float", "the shorter of the two parties' talk times", None),
        MetricSpec("level_match_slope_db_per_min", "float", "slope over the call of |level difference| of the pairs, dB per minute (negative: converges)", "level_pairs"),
        *_party("{p}_f0_median_hz", "float", "median F0 over the {p}'s voiced frames (RAPT)", "{p}_voiced_s"),
        *_party("{p}_f0_sd_st", "float", "SD of the {p}'s F0 in semitones about its own median (octave jumps folded)", "{p}_voiced_s"),
        *_party("{p}_f0_range_st", "float", "10-90 percentile range of the {p}'s F0 in semitones", "{p}_voiced_s"),
        *_party("{p}_voiced_s", "float", "voiced speech of the {p} that the pitch figures rest on", None),
        *_party("{p}_pauses_per_min", "float", "the {p}'s pauses >= pause_min_s inside own turns, per minute of own speech", "{p}_talk_s"),
        *_party("{p}_pause_mean_s", "float", "mean length of the {p}'s pauses", "{p}_talk_s"),
        *_party("{p}_pause_median_s", "float", "median length of the {p}'s pauses", "{p}_talk_s"),
        *_party("{p}_long_pauses", "int", "the {p}'s pauses >= long_pause_s", "{p}_talk_s"),
        MetricSpec("snr_db", "float", "speech level over noise floor, the worse channel", None),
        *_party("{p}_arousal_turns", "int", "the {p}'s turns assessed for arousal (two cues of level, F0, articulation rate measured against the {p}'s own median)", None),
        *_party("{p}_raised_turns", "int", "the {p}'s raised turns: two cues or more at z >= z_raised over the {p}'s own median", "{p}_arousal_turns"),
        *_party("{p}_raised_share", "float", "share of the {p}'s speech in assessed turns that is in raised turns", "{p}_arousal_turns"),
        MetricSpec("agent_answers_to_raised", "int", "assessed agent turns that directly answer a raised caller turn", None),
        MetricSpec("agent_raised_share_answering_raised", "float", "share of the agent's speech in turns answering a raised caller turn that is in raised turns", "agent_answers_to_raised"),
    ]
    return tuple(specs)


def _words() -> tuple[MetricSpec, ...]:
    """The metrics that need the transcript."""
    specs = [
        *_party("{p}_words", "int", "words recognised in the {p}'s speech", None),
        MetricSpec("asr_confidence", "float", "mean recogniser probability of the call's words", "words_total"),
        MetricSpec("words_total", "int", "words recognised in the call", None),
        *_party("{p}_rate_wpm", "float", "the {p}'s words per minute of own speaking time (its speech in its turns and its own silent pauses there)", "{p}_talk_s"),
        *_party("{p}_rate_syll_per_s", "float", "the {p}'s syllables per second of own speaking time", "{p}_talk_s"),
        *_party("{p}_articulation_syll_per_s", "float", "the {p}'s syllables per second of speech (pauses >= 0.25 s left out)", "{p}_talk_s"),
        MetricSpec("rate_ratio", "float", "agent / caller articulation rate", "level_support_s"),
        MetricSpec("rate_pairs", "int", "caller->agent turn pairs with enough words for a rate ratio", None),
        MetricSpec("rate_ratio_pair_median", "float", "median of the per-pair agent / caller articulation rate", "rate_pairs"),
        MetricSpec("rate_match_slope_per_min", "float", "slope over the call of |log2 rate ratio| of the pairs, per minute (negative: the agent converges)", "rate_pairs"),
        MetricSpec("agent_greeting", "int", "1 when the agent greets within greeting_within_s of its first words", "agent_words"),
        MetricSpec("agent_self_introduction", "int", "1 when the agent names itself or the company within greeting_within_s", "agent_words"),
        MetricSpec("agent_recording_notice", "int", "1 when the agent says the call is recorded within recording_notice_within_s", "agent_words"),
        MetricSpec("agent_anything_else", "int", "1 when the agent asks whether it can help with anything else", "agent_words"),
        MetricSpec("agent_thanks", "int", "1 when the agent thanks the caller within its last closing_within_s", "agent_words"),
        MetricSpec("agent_farewell", "int", "1 when the agent says a warm farewell within its last closing_within_s", "agent_words"),
        MetricSpec("agent_clarifying_questions", "int", "agent utterances that ask (end in '?', open with a question word, or a clarifying phrase)", "agent_words"),
        MetricSpec("agent_slang", "int", "slang and colloquialisms in the agent's words", "agent_words"),
        MetricSpec("agent_profanity", "int", "profanity and insults in the agent's words", "agent_words"),
        MetricSpec("agent_prohibited", "int", "prohibited phrases in the agent's words", "agent_words"),
        MetricSpec("caller_profanity", "int", "profanity and insults in the caller's words (information)", "caller_words"),
        MetricSpec("agent_silences_after_question", "int", "caller questions followed by silence over question_silence_s", "agent_words"),
        MetricSpec("agent_interruptions_in_question", "int", "agent interruptions that start inside a caller's question", "agent_words"),
        MetricSpec("agent_backchannels_in_caller_turns", "int", "agent backchannels inside caller turns (active listening)", "agent_words"),
        *_party("{p}_emphasis_words", "int", "the {p}'s words assessed for prominence (two cues of F0 peak, level, duration measured against their neighbours)", None),
        *_party("{p}_prominent_words", "int", "the {p}'s prominent words: two cues or more standing out against the neighbours in the utterance", "{p}_emphasis_words"),
        *_party("{p}_prominent_per_min", "float", "the {p}'s prominent words per minute of its assessed utterances", "{p}_emphasis_words"),
        *_party("{p}_emphasis_utterances", "int", "the {p}'s utterances assessed for prominence (min_words assessed words or more)", None),
        *_party("{p}_emphasis_utterance_share", "float", "share of the {p}'s assessed utterances with at least one prominent word", "{p}_emphasis_utterances"),
        MetricSpec("agent_long_turns", "int", "agent turns of flat_turn_min_s or more with min_words assessed words", None),
        MetricSpec("agent_flat_turn_share", "float", "share of the agent's long turns with no prominent word (flat delivery)", "agent_long_turns"),
        *_party("{p}_sentiment_words", "int", "the {p}'s words scored for tonality (speechqa.sentiment; masked numbers left out)", None),
        *_party("{p}_sentiment_mean", "float", "the {p}'s tonality: mean utterance sentiment, -1 to 1, weighted by words", "{p}_sentiment_words"),
        *_party("{p}_sentiment_trend", "float", "the {p}'s tonality in the last third of its words minus the first third (positive: improved)", "{p}_sentiment_words"),
        *_party("{p}_negative_utterances", "int", "the {p}'s utterances with a sentiment of -negative_at or under", "{p}_sentiment_words"),
    ]
    return tuple(specs)


WORD_METRICS: tuple[MetricSpec, ...] = _words()
WORD_METRIC_NAMES: frozenset[str] = frozenset(spec.name for spec in WORD_METRICS)
METRICS: tuple[MetricSpec, ...] = _build() + WORD_METRICS
METRIC_NAMES: tuple[str, ...] = tuple(spec.name for spec in METRICS)
BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in METRICS}


def conform(values: dict, *, produced) -> dict[str, float | int | None]:
    """All metric names in registry order, with the registry's types. `produced`: the names the
    producers that ran declare; each must be in `values` (None when unmeasured), and `values`
    holds nothing else. The names no producer ran for are None."""
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise KeyError(f"metrics not in speechqa.metrics.METRICS: {sorted(unknown)}")
    missing, undeclared = set(produced) - set(values), set(values) - set(produced)
    if missing or undeclared:
        raise KeyError(f"a metric producer broke its declaration: declared but not produced {sorted(missing)}, "
                       f"produced but not declared {sorted(undeclared)} (a bug in speechqa)")
    out = {}
    for spec in METRICS:
        value = values.get(spec.name)
        if value is None or (isinstance(value, float) and value != value):
            out[spec.name] = None
        else:
            out[spec.name] = int(value) if spec.dtype == "int" else float(value)
    return out
