"""Every option of speechqa, one frozen dataclass per stage, with its defaults and checks.

speechqa.config builds these from TOML; the stages take the one they need (a VAD takes
VadOptions, not the whole configuration). This module imports no stage, so any stage may import
it. Times in seconds, levels in dB; a bad value raises with what to use instead.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from speechqa.errors import SpeechQAError
from speechqa.metrics import METRIC_NAMES
from speechqa.names import ASR_LANGUAGES, AUTO

VAD_RATES_HZ = (8000, 16000)   # the rates the Silero VAD runs at
CUSTOMER_ID_MODES = ("keep", "hash", "drop")
DIRECTIONS = {
    "min": "value >= threshold passes",
    "max": "value <= threshold passes",
    "abs_max": "|value| <= threshold passes",
    "ratio_max": "max(value, 1/value) <= threshold passes (a ratio near 1)",
}



def _require_positive_seconds(options, kind: str) -> None:
    """Every field of `options` is a duration that must be positive."""
    for name, value in vars(options).items():
        if not value > 0:
            raise ValueError(f"{kind} option {name}={value!r} must be a positive number of seconds")


# ---- [measure] ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VadOptions:
    """How speech is found on one channel. Times in seconds, levels in dB.

    The defaults were chosen on telephone audio (8 kHz, 300-3400 Hz, 8-bit mu-law) and one real
    call; `benchmarks/bench_vad.py` measures them, the numbers are in its docstring.
    """

    sample_rate_hz: int = 16000
    """The rate the model runs at: 8000 or 16000; input at any other rate is resampled (soxr).
    16 kHz although telephone audio is 8 kHz: on a real call (lca49) the 8 kHz path missed whole
    utterances of the caller (74 % of her clearly voiced frames found, 92 % at 16 kHz) and
    fired on DTMF at -60 dBFS. 8 kHz is ~1.5x faster and as good on count.wav and FDA."""
    threshold: float = 0.3
    """A frame whose speech probability is at least this starts speech. Silero is less sure of
    phone-band speech: an isolated short word after silence ("six" of count.wav through a phone
    channel) peaks at 0.44 and lasts too few frames over 0.4 to count. At 0.3 (with
    neg_threshold 0.2) it is found, lca49's caller gains 1.2 points of clearly voiced frames
    (0.916 -> 0.928), count.wav's boundaries through a phone channel stay within 50 ms (F1 1.00)
    and FDA silence called speech goes from 0.003 to 0.005; the energy gate still keeps noise,
    hum and tones out. At an 8 kHz model rate use 0.5 and None: there 0.3 moves count.wav's
    phone-channel boundaries by up to 80 ms."""
    neg_threshold: float | None = 0.2
    """Speech continues until the probability falls below this; None = threshold - 0.15."""
    min_speech_s: float = 0.12
    """Detections this short or shorter (before onset extension and padding) are dropped."""
    min_silence_s: float = 0.064
    """Silence (probability below `neg_threshold`) must last this long to end speech: two 32 ms
    frames. Short, so that the raw output keeps gaps between words (a 0.1 s gap in count.wav);
    the timeline bridges gaps shorter than 0.25 s afterwards."""
    speech_pad_s: float = 0.0
    """Widen each interval by this on both sides (halfway into gaps shorter than twice this).
    silero-vad pads 30 ms for ASR chunks; here any pad made boundaries worse: the model's
    offsets are already 20-50 ms late."""
    onset_extend_s: float = 0.128
    """Move each start back over up to this much audio (in 8 ms steps) that passes the energy
    gate: the model becomes sure on the vowel, late on voiceless onsets (the /s/ of "six" by
    170 ms on phone audio at 16 kHz). 0.128 s places all ten onsets of count.wav within 50 ms."""
    energy_margin_db: float = 6.0
    """Frames less than this far above the channel's noise floor are never speech. The most the
    energy gate asks; it asks less of a steady floor with speech near it (the next three)."""
    energy_margin_min_db: float = 2.0
    """The least the energy gate asks above the floor, however steady the floor and near the
    speech. Stationary phone-band noise on 32 ms frames spreads ~0.5 dB around its level."""
    energy_margin_spreads: float = 3.0
    """The least margin the noise allows: this many times the floor's spread (the floor minus the
    percentile a tenth as high: the 10th minus the 1st), at least energy_margin_min_db. Added
    noise spreads 0.5-0.6 dB (lca49 at 40-20 dB SNR); a clean line wanders more (lca49: 2.9 and
    7.4 dB) and keeps the full margin; a floor under 2 dB of spread is steady, and only such a
    channel is cleaned for the network (noise_reduction_db)."""
    quiet_speech_db: float = 33.0
    """The gate is never higher than this under the channel's loud speech (the 95th percentile of
    its frame levels), down to the least margin the noise allows. With noise 30 dB under the
    speech, floor + 6 dB cut the quiet ends of words: lca49's agent lost 7 % of its talk time.
    33 dB lowers the gate only where the loud frames stand less than 39 dB over the floor (lca49
    at 30 dB SNR: 35 dB); clean phone speech stands 40-70 dB over it (FDA, lca49)."""
    noise_reduction_db: float = 40.0
    """On a channel whose floor is steady, the network hears the channel cleaned of that noise by
    a Wiener gain attenuating at most this much (`speechqa.features.denoise`); the gate, the
    floor, levels and SNR still measure the channel as it is. With noise 30 dB under the speech,
    Silero missed 16 % of lca49's caller; cleaned, 3 %. 0 = off. The caller's loss at 30 / 20 dB
    SNR: 9.2 / 15.6 % at 15 dB of attenuation, 4.4 / 12.3 % at 25, 2.9 / 6.9 % at 40 and 60."""
    noise_floor_percentile: float = 10.0
    """The channel's noise floor: this percentile of its 32 ms frame levels."""

    def __post_init__(self) -> None:
        if self.sample_rate_hz not in VAD_RATES_HZ:
            raise SpeechQAError(
                f"VadOptions.sample_rate_hz={self.sample_rate_hz} is not supported by the Silero "
                "VAD; use 16000 (the default) or 8000.",
                error_type="bad_config",
            )
        if not 0.0 < self.threshold < 1.0:
            raise SpeechQAError(
                f"VadOptions.threshold={self.threshold} must lie strictly between 0 and 1 "
                "(0.5 is the default).",
                error_type="bad_config",
            )
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            raise SpeechQAError(
                f"VadOptions.neg_threshold={self.neg_threshold} must lie between 0 and "
                f"threshold={self.threshold}; use None for threshold - 0.15.",
                error_type="bad_config",
            )
        for name in (
            "min_speech_s", "min_silence_s", "speech_pad_s", "onset_extend_s", "energy_margin_db",
            "energy_margin_min_db", "energy_margin_spreads", "quiet_speech_db", "noise_reduction_db",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise SpeechQAError(
                    f"VadOptions.{name}={value} must be a finite number >= 0.",
                    error_type="bad_config",
                )
        if self.energy_margin_min_db > self.energy_margin_db:
            raise SpeechQAError(
                f"VadOptions.energy_margin_min_db={self.energy_margin_min_db} is above "
                f"energy_margin_db={self.energy_margin_db}; use at most {self.energy_margin_db}.",
                error_type="bad_config",
            )
        if not 0.0 <= self.noise_floor_percentile <= 100.0:
            raise SpeechQAError(
                f"VadOptions.noise_floor_percentile={self.noise_floor_percentile} must lie "
                "between 0 and 100 (10 is the default).",
                error_type="bad_config",
            )

    @property
    def effective_neg_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)  # as silero-vad's get_speech_timestamps


@dataclass(frozen=True)
class AsrOptions:
    enabled: bool = True                 # false: acoustics and timing only, no words
    model: str = "models/whisper-base"   # a faster-whisper model folder, or a model name
    compute_type: str = "int8"
    threads: int = 0                     # CPU threads for transcription; 0 = the cores this process may use
    streams: int = 0                     # batches of windows read side by side, threads shared out; 0 = min(threads, 2)
    batch_size: int = 8                  # windows read at once (all streams), at most; memory grows with it
    beam_size: int = 3
    language: str = AUTO                 # "ru", "en" or "auto" (detected once per call)
    agent_language: str = ""             # per-party override; "" = as `language`
    caller_language: str = ""
    detect_from_s: float = 30.0          # auto: detect from the windows holding this much of the agent's first speech
    max_clip_s: float = 30.0             # packed speech per window: Whisper's is 30 s
    clip_pad_s: float = 0.2              # context kept before each stretch of speech: Whisper misreads bare onsets
    clip_tail_s: float = 0.2             # ... and after it
    clip_joint_s: float = 0.1            # silence between two packed stretches
    word_margin_s: float = 0.3           # a word whose middle is further than this from speech is dropped
    utterance_gap_s: float = 1.0         # a longer gap between words starts a new utterance
    no_speech_prob_max: float = 0.6      # drop a segment Whisper finds this likely to be no speech
    compression_ratio_max: float = 2.4   # drop a segment that repeats itself
    avg_logprob_min: float = -1.0        # drop a segment Whisper reads less surely than this (its own failure mark)
    prompt_en: str = ""                  # text read as if said before each window, per language (names, style); "" = none
    prompt_ru: str = ""

    def prompt(self, language: str) -> str:
        """The style prompt for `language` ("" for none)."""
        return getattr(self, f"prompt_{language}", "")

    def __post_init__(self):
        for name in ("language", "agent_language", "caller_language"):
            value = getattr(self, name)
            if value and value not in ASR_LANGUAGES:
                raise ValueError(f"{name} = {value!r}; use one of {ASR_LANGUAGES}")
        if isinstance(self.streams, bool) or not isinstance(self.streams, int) or self.streams < 0:
            raise ValueError(f"streams = {self.streams!r} must be 0 (automatic) or a whole number of at least 1")
        for name in ("batch_size", "beam_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} = {value!r} must be a whole number of at least 1")
        for name in ("clip_pad_s", "clip_tail_s", "clip_joint_s"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)!r} must be in [0, 1] seconds")
        if not 0 < self.max_clip_s <= 30:
            raise ValueError(f"max_clip_s = {self.max_clip_s!r} must be in (0, 30]: Whisper's window is 30 s")


@dataclass(frozen=True)
class PiiOptions:
    enabled: bool = True         # False: nothing is masked
    cards: bool = True           # Luhn-valid runs of 13-19 digits, possibly in groups
    phones: bool = True          # Russian (+7 / 8) and international numbers
    emails: bool = True          # written and spoken addresses
    number_words: bool = True    # runs of spelled-out numbers or written 1-4 digit groups
    min_number_words: int = 4    # the shortest such run that is masked

    def __post_init__(self):
        if not (isinstance(self.min_number_words, int) and self.min_number_words >= 1):
            raise ValueError(f"pii option min_number_words={self.min_number_words!r} must be a whole "
                             "number of at least 1 (the default is 4)")


@dataclass(frozen=True)
class QualityOptions:
    dual_mono_correlation: float = 0.95   # channels this alike are one signal twice
    crosstalk_correlation: float = 0.6    # a segment this alike to the other channel is leak
    crosstalk_max_lag_s: float = 0.25
    clipping_share: float = 0.001         # share of samples at full scale that flags clipping
    narrowband_max_share: float = 0.001   # energy share above 4 kHz below which audio is phone-band

    def __post_init__(self):
        for name in ("dual_mono_correlation", "crosstalk_correlation"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)!r} must be in (0, 1]")

@dataclass(frozen=True)
class PitchOptions:
    fmin_hz: float = 60.0
    fmax_hz: float = 400.0
    hop_s: float = 0.01


@dataclass(frozen=True)
class TurnOptions:
    """Where turns begin and end (criteria.md, "turn"). Turns are measured: each turn's level,
    F0 and articulation rate come from the audio, so these options are part of [measure]."""

    floor_take_s: float = 1.0          # the other party speaking longer than this takes the floor
    turn_end_silence_s: float = 3.0    # own silence longer than this ends a turn

    def __post_init__(self):
        _require_positive_seconds(self, "turn")



@dataclass(frozen=True)
class DiarizeOptions:
    """How a mono call is split into two speakers (speechqa.diarize)."""

    enabled: bool = True                  # false: a mono call gets whole-call figures only
    model: str = ""                       # a CAM++ ONNX file; "" = the bundled one
    window_s: float = 1.5                 # each speaker embedding covers this much speech
    hop_s: float = 0.75                   # a window starts this long after the previous one
    min_window_s: float = 0.5             # speech shorter than this gets no window of its own
    pruning: float = 0.05                 # each window keeps this share of its strongest affinities (at least 6)
    one_speaker_similarity: float = 0.86  # two clusters this alike (cosine of centroids) are one voice
    min_windows_per_speaker: int = 5      # a cluster of fewer windows is no second speaker
    clear_margin: float = 0.1             # a window this much nearer its own centroid counts as clearly assigned
    min_turn_s: float = 1.0               # a change of speaker inside unbroken speech must hold this long
    refine_reach_s: float = 0.6           # a change inside unbroken speech is looked for again this far either side (0: not)
    refine_window_s: float = 0.5          # ... with embeddings of windows this long
    refine_step_s: float = 0.2            # ... this far apart
    # Clusters at least this alike are checked by the segmentation network (speechqa.diarize), in
    # at most check_chunks chunks of 5 s; under min_two_voice_share of them heard as two voices:
    # one speaker. check_similarity 1.0: never checked.
    check_similarity: float = 0.6
    check_chunks: int = 16
    min_two_voice_share: float = 0.35

    def __post_init__(self):
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError(f"diarize hop_s = {self.hop_s!r} must be in (0, window_s = {self.window_s!r}]")
        if not 0 < self.min_window_s <= self.window_s:
            raise ValueError(f"diarize min_window_s = {self.min_window_s!r} must be in (0, window_s]")
        if not 0 < self.pruning <= 1:
            raise ValueError(f"diarize pruning = {self.pruning!r} must be a share in (0, 1]")
        if not -1 <= self.one_speaker_similarity <= 1:
            raise ValueError(f"diarize one_speaker_similarity = {self.one_speaker_similarity!r} must be a cosine in [-1, 1]")
        if self.min_windows_per_speaker < 1:
            raise ValueError(f"diarize min_windows_per_speaker = {self.min_windows_per_speaker!r} must be 1 or more")
        if self.refine_reach_s < 0 or self.refine_window_s <= 0 or self.refine_step_s <= 0:
            raise ValueError(f"diarize refine_reach_s = {self.refine_reach_s!r} must be 0 or more, refine_window_s = "
                             f"{self.refine_window_s!r} and refine_step_s = {self.refine_step_s!r} more than 0")
        if not -1 <= self.check_similarity <= 1:
            raise ValueError(f"diarize check_similarity = {self.check_similarity!r} must be a cosine in [-1, 1] (1: no check)")
        if self.check_chunks < 1:
            raise ValueError(f"diarize check_chunks = {self.check_chunks!r} must be 1 or more")
        if not 0 <= self.min_two_voice_share <= 1:
            raise ValueError(f"diarize min_two_voice_share = {self.min_two_voice_share!r} must be a share in [0, 1]")


# ---- [score] ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimingOptions:
    line_delay_s: float = 0.2          # onsets this close to the other's end are not interruptions
    interruption_grace_s: float = 0.5  # overlap needed before an onset counts as an interruption
    dead_air_s: float = 3.0            # T: shortest silence counted as dead air
    overtalk_episode_min_s: float = 1.0
    slow_reply_s: float = 2.0
    pause_min_s: float = 0.25
    long_pause_s: float = 2.0

    def __post_init__(self):
        _require_positive_seconds(self, "timing")


@dataclass(frozen=True)
class ScriptOptions:
    greeting_within_s: float = 10.0          # from the start of the agent's first utterance
    recording_notice_within_s: float = 60.0  # likewise, for the recording notice
    closing_within_s: float = 20.0           # farewell / thanks within the agent's last N seconds
    question_silence_s: float = 5.0          # longest silence allowed right after a caller's question

    def __post_init__(self):
        _require_positive_seconds(self, "script")

@dataclass(frozen=True)
class QualityGate:
    """Where a call's own quality figures say its measurements cannot be trusted, its criteria
    abstain instead of passing or failing on them. The validity suite's noise ladder
    (README, "Validity") set the default: on lca49, phone-band noise that left 11 dB of measured
    SNR flipped nine criteria between pass and fail; at 15.6 dB the word criteria still flipped
    with the recogniser, but the acoustic ones held."""

    min_snr_db: float = 15.0          # under it (snr_db, the worse channel) every criterion abstains; 0: off
    min_asr_confidence: float = 0.0   # under it (asr_confidence) the word criteria abstain; 0: off

    def __post_init__(self):
        if not (math.isfinite(self.min_snr_db) and self.min_snr_db >= 0):
            raise ValueError(f"score.quality.min_snr_db = {self.min_snr_db!r}; use dB >= 0 (0 turns the gate off)")
        if not 0.0 <= self.min_asr_confidence <= 1.0:
            raise ValueError(f"score.quality.min_asr_confidence = {self.min_asr_confidence!r}; use 0..1 (0 turns it off)")

    def poor(self, metrics: dict, *, words: bool) -> str | None:
        """Why a criterion on these metrics cannot be trusted (words: it rests on the transcript); None: it can."""
        snr = metrics.get("snr_db")
        if snr is not None and snr < self.min_snr_db:
            return f"poor recording: SNR {snr:.1f} dB < [score.quality] min_snr_db {self.min_snr_db:g}"
        confidence = metrics.get("asr_confidence")
        if words and confidence is not None and confidence < self.min_asr_confidence:
            return (f"poor transcript: recogniser confidence {confidence:.2f} < "
                    f"[score.quality] min_asr_confidence {self.min_asr_confidence:g}")
        return None


@dataclass(frozen=True)
class RateOptions:
    min_speech_s: float = 5.0   # a party's rate needs this much articulation time
    min_pair_words: int = 3     # a caller->agent turn pair's rate ratio needs this many words per turn


@dataclass(frozen=True)
class ArousalOptions:
    """When a turn reads raised against its party's own call median (speechqa.features.arousal)."""

    z_raised: float = 1.5              # a cue is up at this many robust SDs over the party's median
    min_cues: int = 2                  # of level, F0 and articulation rate, this many up at once
    level_spread_min_db: float = 2.0   # the robust SD is never taken as less than this (so >= 3 dB at z 1.5)
    f0_spread_min_st: float = 1.0      # (>= 1.5 semitones at z 1.5)
    rate_spread_min: float = 0.1       # natural log of the rate ratio (>= 16 % faster at z 1.5)
    min_turns: int = 5                 # a cue's median needs this many of the party's turns measuring it
    rate_min_words: int = 5            # a turn's articulation rate counts as a cue from this many words

    def __post_init__(self):
        if not 1 <= self.min_cues <= 3:
            raise ValueError(f"arousal min_cues = {self.min_cues!r}; use 1 to 3 (of level, F0 and rate)")
        if self.min_turns < 2:
            raise ValueError(f"arousal min_turns = {self.min_turns!r}; a median to rise over needs 2 turns or more")
        for name in ("z_raised", "level_spread_min_db", "f0_spread_min_st", "rate_spread_min"):
            if not getattr(self, name) > 0:
                raise ValueError(f"arousal {name} = {getattr(self, name)!r} must be positive")


@dataclass(frozen=True)
class EmphasisOptions:
    """When a word stands out against its neighbours (speechqa.features.emphasis), and when an
    agent turn counts as long enough to need emphasis."""

    neighbours: int = 3                # words on each side of a word that it is compared with
    min_neighbours: int = 2            # a cue needs this many neighbours measuring it
    f0_rise_st: float = 2.0            # F0 peak over the neighbours' median
    level_rise_db: float = 3.0         # peak level over the neighbours' median
    duration_ratio: float = 1.4        # duration per syllable over the neighbours' median
    min_cues: int = 2                  # of the three, this many at once
    min_words: int = 4                 # an utterance is assessed from this many words
    flat_turn_min_s: float = 10.0      # an agent turn this long with no prominent word is flat

    def __post_init__(self):
        if not 1 <= self.min_cues <= 3:
            raise ValueError(f"emphasis min_cues = {self.min_cues!r}; use 1 to 3 (of F0, level and duration)")
        if self.neighbours < 1 or not 1 <= self.min_neighbours <= 2 * self.neighbours:
            raise ValueError(f"emphasis neighbours = {self.neighbours!r}, min_neighbours = {self.min_neighbours!r}; "
                             "use neighbours >= 1 and 1 <= min_neighbours <= 2 x neighbours")
        if self.min_words < 2:
            raise ValueError(f"emphasis min_words = {self.min_words!r}; a word needs neighbours: use 2 or more")
        if not self.duration_ratio > 1:
            raise ValueError(f"emphasis duration_ratio = {self.duration_ratio!r}; use a ratio over 1, e.g. 1.4")
        for name in ("f0_rise_st", "level_rise_db", "flat_turn_min_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"emphasis {name} = {getattr(self, name)!r} must be positive")


@dataclass(frozen=True)
class SentimentOptions:
    """When a party has said enough for a tonality (speechqa.sentiment), and what counts as a
    negative utterance."""

    min_words: int = 20           # a party's mean needs this many words scored
    min_trend_words: int = 60     # its trend (last third of its words minus the first) this many
    negative_at: float = 0.3      # an utterance scoring -0.3 or under is negative

    def __post_init__(self):
        if self.min_words < 1 or self.min_trend_words < 3:
            raise ValueError(f"sentiment min_words = {self.min_words!r}, min_trend_words = {self.min_trend_words!r}; "
                             "use 1 or more, and 3 or more for the trend (a third each side)")
        if not 0 < self.negative_at < 1:
            raise ValueError(f"sentiment negative_at = {self.negative_at!r}; use a score between 0 and 1, e.g. 0.3")


@dataclass(frozen=True)
class BaselineOptions:
    """Each agent's own baseline (speechqa.baseline): a metric's median over the agent's last
    `window_calls` earlier calls that measured it, and a robust spread around it."""

    window_calls: int = 20        # N: the agent's last N earlier calls measuring the metric
    min_calls: int = 5            # fewer earlier calls than this: no baseline (null, with why)
    metrics: tuple[str, ...] = ()   # the metrics given a baseline; () = every metric

    def __post_init__(self):
        if not 2 <= self.min_calls <= self.window_calls:
            raise ValueError(f"baseline min_calls = {self.min_calls!r}, window_calls = {self.window_calls!r}; use "
                             "2 <= min_calls <= window_calls (a spread needs two calls), e.g. 5 and 20")
        unknown = [m for m in self.metrics if m not in METRIC_NAMES]
        if unknown:
            raise ValueError(f"baseline metrics {unknown} are not measured by speechqa; the metric names are the "
                             "keys of `speechqa score --json` \"metrics\"")


BASELINES = (None, "agent")   # what a criterion compares with: its threshold (None), or the agent's own baseline


@dataclass(frozen=True)
class Criterion:
    id: str
    metric: str
    direction: str
    threshold: float
    weight: float = 1.0
    min_support: float = 0.0   # in the unit of the metric's support (see speechqa.metrics)
    fatal: bool = False        # failing it sets the total to 0
    label: str = ""
    # "agent": the threshold is a robust z-score of the value against the agent's own baseline
    # ([score.baseline]), not a value of the metric; None (left out): the threshold itself.
    baseline: str | None = None

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"criterion {self.id!r}: direction {self.direction!r} is not one of {sorted(DIRECTIONS)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"criterion {self.id!r}: baseline {self.baseline!r}; use \"agent\" (against the agent's own "
                             "baseline) or leave it out (against the threshold)")
        if self.baseline and self.direction == "ratio_max":
            raise ValueError(f"criterion {self.id!r}: direction \"ratio_max\" has no meaning for a z-score against the "
                             "agent's baseline; use max (z <= threshold), min (z >= threshold) or abs_max (|z| <= threshold)")
        if self.metric not in METRIC_NAMES:
            close = difflib.get_close_matches(self.metric, METRIC_NAMES, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise ValueError(f"criterion {self.id!r}: metric {self.metric!r} is not measured by speechqa; {hint}"
                             "the metric names are the keys of `speechqa score --json` \"metrics\"")
        if not self.weight >= 0:
            raise ValueError(f"criterion {self.id!r}: weight {self.weight!r} must be 0 or more")


# ---- [batch.sources] ----------------------------------------------------------------------

AUDIO_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "opus", "oga", "m4a", "mp4", "aac", "amr", "gsm", "au", "aif", "aiff", "wma", "webm", "mka")


@dataclass(frozen=True)
class SourceOptions:
    extensions: tuple[str, ...] = AUDIO_EXTENSIONS
    # A file stem matching this is one leg of a call; files with the same "call" group join.
    pair_pattern: str = r"^(?P<call>.+)[_-](?P<leg>agent|caller|in|out)$"
    agent_legs: tuple[str, ...] = ("agent", "out")
    caller_legs: tuple[str, ...] = ("caller", "in")
    # Regex on the path relative to the recordings folder (with '/'); named groups become metadata.
    filename_pattern: str = ""
    call_time_format: str = ""        # strptime format of the call_time group; "" = ISO 8601
    timezone: str = "UTC"             # call_date is the local business day here; naive times are local
    customer_id: str = "keep"         # keep, hash (sha256 with salt) or drop
    customer_id_salt: str = ""
