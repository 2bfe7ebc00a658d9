"""Speech recognition per party with faster-whisper, over that party's speech only.

Each party's speech, from its own VAD timeline (never Whisper's VAD), is cut out and packed end
to end, both parties in one stream, into 30 s windows (speechqa.packing); the windows go through
Whisper's encoder one at a time and its decoder in batches (speechqa.whisper: faster-whisper's
model, our own loop, which lets the language be detected from the first windows' encoder output
instead of a pass of its own), and the words' times are mapped back to their channel's time,
with the guards against invented text (speechqa.packing). This module runs those steps in order.

On more than one core the windows are read in `streams` side by side, each on its share of the
threads (CTranslate2's workers): a decoder step is many small matrix products, which one thread
each runs with less waiting than several threads share one (on 2 cores, lca49's 9 windows
decoded as 5 + 4 side by side took 5.3 s against 8.8-9.4 s one batch after the other on both).
A model folder holding `speechqa-model.toml` is read by the second engine instead (CTC and
transducer models on onnxruntime, speechqa.onnx_asr), over the same packed windows.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import ceil

import numpy as np

from speechqa import onnx_asr, packing, whisper
from speechqa.cores import usable_cores
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
    method: str                          # "config", "detected", or "model" (a model of one language)
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
    streams: int = 1,
) -> Transcript:
    """Each channel's utterances, decoded over its own speech only, all channels in one packed
    stream (a word belongs to the channel its middle was cut from). With language "auto" the
    language is detected from the first windows, which hold `first_channel`'s first speech.
    `streams`: how many windows and batches the model reads side by side (as loaded)."""
    language, method = model_language(language, only=reads_only(model), setting="language")
    order = [first_channel] + [c for c in range(len(speech_by_channel)) if c != first_channel]
    packed, windows, where = packing.pack_speech(
        samples, sample_rate_hz, speech_by_channel, pad_s=options.clip_pad_s, tail_s=options.clip_tail_s,
        window_s=options.max_clip_s, joint_s=options.clip_joint_s, order=order,
    )
    # The windows go to the model a batch at a time, and only a batch's packed speech is brought
    # to Whisper's 16 kHz: all of a 1-hour call's at once would hold hundreds of megabytes more.
    probability = None
    decoded: list[packing.DecodedWindow] = []
    with ThreadPoolExecutor(streams) as side_by_side:
        for batch in packing.even_batches(windows, options.batch_size):
            audios = packing.window_audio(*packing.at_asr_rate(packed, sample_rate_hz, batch), batch)
            if isinstance(model, onnx_asr.OnnxModel):   # the second engine: one language, word times of its own
                decoded += onnx_asr.decode(audios, batch, model=model)
                continue
            encoded = whisper.encode(audios, model=model, each=side_by_side.map)
            if language == AUTO:
                # The first windows are the first party's first speech: detecting from their
                # encoder output spares the separate encoder pass a detection of its own costs.
                first_speech = encoded[: max(1, ceil(options.detect_from_s / options.max_clip_s))]
                language, probability = whisper.detect_language(first_speech, model=model)
            parts = packing.even_batches(list(range(len(batch))), ceil(len(batch) / streams))

            def read(part: list[int]) -> list[packing.DecodedWindow]:
                return whisper.decode(encoded[part[0]: part[-1] + 1], batch[part[0]: part[-1] + 1], model=model,
                                      language=language, beam_size=options.beam_size, prompt=options.prompt(language),
                                      dropped=lambda window: packing.invented(window, options))

            for part in side_by_side.map(read, parts):
                decoded += part
    if language == AUTO:   # nothing to listen to
        language, probability = "en", 0.0
    method = method if probability is None else "detected"
    return Transcript(
        language=language, language_probability=probability, method=method,
        channels=packing.utterances(decoded, where, speech_by_channel, parties=parties, language=language, options=options),
    )


def reads_only(model) -> str | None:
    """The one language a model reads (an English-only Whisper's, an ONNX model's), or None
    when it reads many and can detect which."""
    if isinstance(model, onnx_asr.OnnxModel):
        return model.spec.language
    return None if whisper.is_multilingual(model) else ENGLISH


def model_language(language: str, *, only: str | None, setting: str, model_name: str = "the model") -> tuple[str, str]:
    """The language to read in and how it was chosen ("config", or "model" where a model that
    reads one language leaves no choice); "auto" stays "auto" on a multilingual model, to be
    detected. A model of one language cannot detect one (CTranslate2 refuses on an `*.en`
    Whisper), so "auto" reads that language; any other is a configuration it cannot honour."""
    if only is None:
        return language, "config"
    if language == AUTO:
        return only, "model"
    if language != only:
        kind = "English-only" if only == ENGLISH else f"reads {only!r} only"
        raise SpeechQAError(
            f"[measure.asr] {setting} = {language!r}, but {model_name} is {kind}: "
            f'set {setting} = "{only}" or "auto", or point [measure.asr] model at a model that reads {language!r} '
            "(models/whisper-base reads Russian and English)",
            error_type="bad_config",
        )
    return language, "config"


class Transcriber:
    """Transcribes a call's channels; holds the model, loaded once."""

    def __init__(self, options: AsrOptions):
        self.options = options
        self.streams = 1
        if onnx_asr.is_onnx_model(options.model):
            self.model = onnx_asr.load_onnx_model(options.model, threads=options.threads)
        else:
            threads = options.threads or usable_cores()
            self.streams = options.streams or min(threads, 2)
            self.model = load_asr_model(options.model, compute_type=options.compute_type,
                                        threads=max(1, threads // self.streams), streams=self.streams)
        only = reads_only(self.model)
        # A language the model cannot read is refused now, not at the first call's first party.
        for setting in ("language", "agent_language", "caller_language"):
            if getattr(options, setting):
                model_language(getattr(options, setting), only=only, setting=setting, model_name=options.model)
        if only is not None and options.language == AUTO:
            log.info("%s reads %r only: language = \"auto\" reads every call in it", options.model, only)

    def transcribe(
        self, samples: np.ndarray, sample_rate_hz: int, speech_by_channel: list[np.ndarray], *, first_channel: int
    ) -> Transcript:
        """Each channel over its own speech, in one language: the configured one, or the one
        detected from the first `detect_from_s` of `first_channel`'s speech (the agent's, or
        the first speaker's when roles are automatic; the other channel's if that is silent)."""
        names = (CALL,) if len(samples) == 1 else CHANNELS
        return transcribe_channels(
            samples, sample_rate_hz, speech_by_channel, parties=names, language=self.options.language,
            model=self.model, options=self.options, first_channel=first_channel, streams=self.streams,
        )

    def transcribe_channel(
        self, signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, party: str, language: str
    ) -> list[Utterance]:
        return list(transcribe_channels(
            signal, sample_rate_hz, [speech], parties=(party,), language=language, model=self.model, options=self.options,
            streams=self.streams,
        ).channels[0])
