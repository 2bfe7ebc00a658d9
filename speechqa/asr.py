"""Speech recognition per party with faster-whisper, over that party's speech only.

Each party's speech, from its own VAD timeline (never Whisper's VAD), is cut out and packed end
to end, both parties in one stream, into 30 s windows (speechqa.packing); the windows go through
Whisper's encoder one at a time and its decoder in batches (speechqa.whisper: faster-whisper's
model, our own loop, which lets the language be detected from the first windows' encoder output
instead of a pass of its own), and the words' times are mapped back to their channel's time,
with the guards against invented text (speechqa.packing). This module runs those steps in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import ceil

import numpy as np

from speechqa import packing, whisper
from speechqa.errors import SpeechQAError
from speechqa.names import AUTO, CALL, CHANNELS
from speechqa.options import AsrOptions
from speechqa.transcript import Utterance
from speechqa.whisper import load_asr_model   # tests and benchmarks import it from here too

log = logging.getLogger("speechqa")
ENGLISH = "en"   # what an English-only model (`*.en`) reads

@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float | None   # None when the language came from configuration
    method: str                          # "config", "detected", or "model" (an English-only model)
    channels: tuple[tuple[Utterance, ...], ...]   # per channel; party is a channel's name (CHANNELS), or CALL


def transcribe_channels(
    samples: np.ndarray,
    sample_rate_hz: int,
    speech_by_channel: list[np.ndarray],
    *,
    parties: tuple[str, ...],
    language: str,
    model,
    options: AsrOptions,
    first_channel: int = 0,
) -> Transcript:
    """Each channel's utterances, decoded over its own speech only, all channels in one packed
    stream (a word belongs to the channel its middle was cut from). With language "auto" the
    language is detected from the first windows, which hold `first_channel`'s first speech."""
    language, method = model_language(language, multilingual=whisper.is_multilingual(model), setting="language")
    order = [first_channel] + [c for c in range(len(speech_by_channel)) if c != first_channel]
    packed, windows, where = packing.pack_speech(
        samples, sample_rate_hz, speech_by_channel, pad_s=options.clip_pad_s, window_s=options.max_clip_s, order=order
    )
    # The windows go to the model a batch at a time, and only a batch's packed speech is brought
    # to Whisper's 16 kHz: all of a 1-hour call's at once would hold hundreds of megabytes more.
    probability = None
    decoded: list[packing.DecodedWindow] = []
    for batch in packing.even_batches(windows, options.batch_size):
        encoded = whisper.encode(packing.window_audio(*packing.at_asr_rate(packed, sample_rate_hz, batch), batch), model=model)
        if language == AUTO:
            # The first windows are the first party's first speech: detecting from their
            # encoder output spares the separate encoder pass a detection of its own costs.
            first_speech = encoded[: max(1, ceil(options.detect_from_s / options.max_clip_s))]
            language, probability = whisper.detect_language(first_speech, model=model)
        decoded += whisper.decode(encoded, batch, model=model, language=language, beam_size=options.beam_size,
                                  dropped=lambda window: packing.invented(window, options))
    if language == AUTO:   # nothing to listen to
        language, probability = "en", 0.0
    method = method if probability is None else "detected"
    return Transcript(
        language=language, language_probability=probability, method=method,
        channels=packing.utterances(decoded, where, speech_by_channel, parties=parties, language=language, options=options),
    )


def model_language(language: str, *, multilingual: bool, setting: str, model_name: str = "the model") -> tuple[str, str]:
    """The language to read in and how it was chosen ("config", or "model" where an English-only
    model leaves no choice); "auto" stays "auto" on a multilingual model, to be detected.

    An English-only model cannot detect a language (CTranslate2 refuses), so "auto" reads
    English; a language other than English is a configuration it cannot honour."""
    if multilingual:
        return language, "config"
    if language == AUTO:
        return ENGLISH, "model"
    if language != ENGLISH:
        raise SpeechQAError(
            f"[measure.asr] {setting} = {language!r}, but {model_name} is English-only (not multilingual): "
            f'set {setting} = "en" or "auto", or point [measure.asr] model at a multilingual model such as models/whisper-base',
            error_type="bad_config",
        )
    return language, "config"


class Transcriber:
    """Transcribes a call's channels; holds the model, loaded once."""

    def __init__(self, options: AsrOptions):
        self.options = options
        self.model = load_asr_model(options.model, compute_type=options.compute_type, threads=options.threads)
        multilingual = whisper.is_multilingual(self.model)
        # A language the model cannot read is refused now, not at the first call's first party.
        for setting in ("language", "agent_language", "caller_language"):
            if getattr(options, setting):
                model_language(getattr(options, setting), multilingual=multilingual, setting=setting, model_name=options.model)
        if not multilingual and options.language == AUTO:
            log.info("%s is English-only: language = \"auto\" reads every call as English", options.model)

    def transcribe(
        self, samples: np.ndarray, sample_rate_hz: int, speech_by_channel: list[np.ndarray], *, first_channel: int
    ) -> Transcript:
        """Each channel over its own speech, in one language: the configured one, or the one
        detected from the first `detect_from_s` of `first_channel`'s speech (the agent's, or
        the first speaker's when roles are automatic; the other channel's if that is silent)."""
        names = (CALL,) if len(samples) == 1 else CHANNELS
        return transcribe_channels(
            samples, sample_rate_hz, speech_by_channel, parties=names, language=self.options.language,
            model=self.model, options=self.options, first_channel=first_channel,
        )

    def transcribe_channel(
        self, signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, party: str, language: str
    ) -> list[Utterance]:
        return list(transcribe_channels(
            np.asarray(signal)[None, :], sample_rate_hz, [speech], parties=(party,), language=language, model=self.model, options=self.options,
        ).channels[0])
