"""Each party's speech packed into Whisper's 30 s windows, and the recogniser's words mapped back.

Pure: arrays in, arrays and utterances out; no model. speechqa.asr runs the steps in order:
`pack_speech` lays every channel's VAD speech end to end in one stream and cuts it into windows,
`even_batches` groups the windows for the decoder, `at_asr_rate` and `window_audio` cut a batch
out at Whisper's rate, speechqa.whisper reads them into `DecodedWindow`s, and `utterances` maps
their words back to each channel's own time.

Whisper invents text on silence, hold music and the other party's leak, so three guards keep
such text out: only VAD speech is packed; windows that Whisper itself thinks are no speech
(no_speech_prob), or that repeat themselves (compression ratio), are dropped; and words whose
middle lies away from the party's speech (Whisper's word times are rough, hence a margin) are
dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING

import numpy as np

from speechqa.sample_file import is_sample_reader
from speechqa.transcript import Utterance, Word

if TYPE_CHECKING:
    from speechqa.options import AsrOptions

log = logging.getLogger("speechqa")

ASR_RATE_HZ = 16000


@dataclass(frozen=True)
class Packing:
    """Where each piece of speech sits in the packed audio: rows of
    [packed_start_s, original_start_s, duration_s, channel]."""

    pieces: np.ndarray

    def locate(self, start_s: float, end_s: float) -> tuple[int, float, float]:
        """A stretch of packed time as (channel, start_s, end_s) in that channel's own time: the
        piece holding its middle decides, so a word never spans two channels."""
        i = max(0, int(np.searchsorted(self.pieces[:, 0], (start_s + end_s) / 2, side="right")) - 1)
        packed_start, original_start, duration, channel = self.pieces[i]

        def inside(t: float) -> float:
            return float(original_start + min(max(t - packed_start, 0.0), duration))

        return int(channel), inside(start_s), inside(end_s)


@dataclass(frozen=True)
class DecodedWindow:
    """Whisper's reading of one packed window; times in packed seconds."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[tuple[str, float, float, float], ...]   # (word, start_s, end_s, probability)


MIN_WINDOW_ROOM_S = 2.0   # a window with less room left is closed
CUT_SEARCH_S = 1.5        # a stretch cut at a window's end is cut within this much of it


def _quietest(signal: np.ndarray, rate: int, from_s: float, to_s: float, *, frame_s: float = 0.02) -> float:
    """The centre of the quietest frame between from_s and to_s."""
    frame = int(frame_s * rate)
    a, b = int(max(from_s, 0.0) * rate), int(to_s * rate)
    n = (b - a) // frame
    if n < 1:
        return to_s
    energy = np.square(signal[a: a + n * frame].astype(np.float64)).reshape(n, frame).sum(axis=1)
    return (a + (int(np.argmin(energy)) + 0.5) * frame) / rate


class PackedSpeech:
    """The packed audio, float32 at the samples' rate, cut from the recording only when a
    stretch of it is asked for (`packed[a:b]`, `len(packed)`): the whole of a long call's speech
    at once would hold hundreds of megabytes. Between pieces, `joint` samples of silence."""

    def __init__(self, samples, cuts: list[tuple[int, int, int]], joint: int):
        self._samples = samples
        self._cuts = cuts
        self._starts = np.concatenate(([0], np.cumsum([b - a + joint for _, a, b in cuts], dtype=np.int64)))
        self.size = int(self._starts[-1])

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(self.size)
        if step != 1:
            raise IndexError("packed speech reads contiguous stretches, packed[a:b]")
        out = np.zeros(max(0, stop - start), np.float32)
        k = max(0, int(np.searchsorted(self._starts, start, side="right")) - 1)
        while k < len(self._cuts) and self._starts[k] < stop:
            channel, a, b = self._cuts[k]
            at = int(self._starts[k])
            lo, hi = max(start, at), min(stop, at + b - a)
            if hi > lo:
                out[lo - start: hi - start] = self._samples[channel][a + lo - at: a + hi - at]
            k += 1
        return out


def pack_speech(
    samples: np.ndarray, sample_rate_hz: int, speech_by_channel: list[np.ndarray], *,
    pad_s: float, tail_s: float, window_s: float, joint_s: float, order: list[int] | None = None,
) -> tuple[PackedSpeech, list[tuple[float, float]], Packing]:
    """The speech of every channel (widened by pad_s before each stretch and tail_s after it)
    cut out and laid end to end, channel after channel (in `order`), with joint_s of silence
    between pieces, into windows of at most window_s.

    Whisper's encoder always runs on a 30 s window however little speech is in it, so packing
    the speech (as faster-whisper does with its own VAD chunks) rather than decoding one clip per
    utterance is what makes transcription cheap; packing both parties into one stream fills the
    windows the parties would each leave half empty. Returns the packed audio (at the samples'
    rate, read from `samples` as it is asked for), the windows in packed seconds, and the mapping
    back to each channel's time. `samples`: (channels, n), or one channel 1-D; a recording's
    sample file (speechqa.sample_file) is read a piece at a time."""
    rate = int(sample_rate_hz)
    samples = samples.as_rows() if is_sample_reader(samples) else np.asarray(samples).reshape(len(speech_by_channel), -1)
    cuts, windows, rows = [], [], []
    joint = int(joint_s * rate)
    packed_s, window_start = 0.0, 0.0
    for channel in order or range(len(speech_by_channel)):
        signal = samples[channel]
        for start, end in _widened_pieces(speech_by_channel[channel], pad_s=pad_s, tail_s=tail_s,
                                             duration_s=len(signal) / rate):
            while end - start > 1e-3:
                room = window_s - (packed_s - window_start) - joint_s
                if room < MIN_WINDOW_ROOM_S:
                    windows.append((window_start, packed_s))
                    window_start, room = packed_s, window_s - joint_s
                # Fill each window: a stretch that does not fit is cut at its quietest moment
                # just before the window ends (a pause between words), and goes on in the next.
                stop = end if end - start <= room else _quietest(signal, rate, start + room - CUT_SEARCH_S, start + room)
                a, b = int(start * rate), int(stop * rate)
                rows.append((packed_s, start, (b - a) / rate, channel))
                cuts.append((channel, a, b))
                packed_s += (b - a + joint) / rate
                start = b / rate
    if packed_s > window_start:
        windows.append((window_start, packed_s))
    return PackedSpeech(samples, cuts, joint), windows, Packing(np.array(rows, dtype=np.float64).reshape(-1, 4))


def _widened_pieces(speech: np.ndarray, *, pad_s: float, tail_s: float, duration_s: float) -> list[tuple[float, float]]:
    widened = np.asarray(speech, dtype=np.float64).reshape(-1, 2).copy()
    widened[:, 0] = np.maximum(widened[:, 0] - pad_s, 0.0)
    widened[:, 1] = np.minimum(widened[:, 1] + tail_s, duration_s)
    pieces: list[tuple[float, float]] = []
    for start, end in widened:
        if pieces and start <= pieces[-1][1]:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], end))
        else:
            pieces.append((start, end))
    return pieces


def even_batches(items: list, batch_size: int) -> list[list]:
    """`items` in as few batches of at most `batch_size` as can be, their sizes differing by one
    at most. The decoder steps until a batch's longest window is read, at a cost per step that
    grows slowly with the batch, so 10 windows in batches of 6 go as 5 + 5, not 6 + 4."""
    count = max(1, ceil(len(items) / batch_size))
    bounds = [len(items) * i // count for i in range(count + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def to_asr_rate(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    if sample_rate_hz == ASR_RATE_HZ:
        return np.ascontiguousarray(signal, dtype=np.float32)
    import soxr

    return soxr.resample(signal, sample_rate_hz, ASR_RATE_HZ, quality="HQ").astype(np.float32)


def at_asr_rate(packed: np.ndarray, sample_rate_hz: int, windows: list[tuple[float, float]], *, margin_s: float = 0.05) -> tuple[np.ndarray, int]:
    """The packed audio under the windows at 16 kHz, and the 16 kHz sample it starts at (a
    margin on both sides keeps the resampler's edges out of it)."""
    first, last = int(windows[0][0] * ASR_RATE_HZ), int(windows[-1][1] * ASR_RATE_HZ)
    margin = int(margin_s * sample_rate_hz)
    a = max(int(first * sample_rate_hz / ASR_RATE_HZ) - margin, 0)
    piece = to_asr_rate(packed[a: int(last * sample_rate_hz / ASR_RATE_HZ) + margin + 1], sample_rate_hz)
    skip = int(round(a * ASR_RATE_HZ / sample_rate_hz))
    return piece[first - skip: last - skip], first


def window_audio(audio16k: np.ndarray, first_sample: int, windows: list[tuple[float, float]]) -> list[np.ndarray]:
    """Each window's audio, from the 16 kHz audio of its batch that starts at packed sample
    `first_sample` (what `at_asr_rate` returns)."""
    return [audio16k[int(start * ASR_RATE_HZ) - first_sample: int(end * ASR_RATE_HZ) - first_sample] for start, end in windows]


def utterances(
    decoded: list[DecodedWindow], packing: Packing, speech_by_channel: list[np.ndarray], *, parties, language: str, options: AsrOptions
) -> tuple[tuple[Utterance, ...], ...]:
    """Each channel's utterances from the decoded windows: invented windows and words away from
    the channel's speech dropped, each word at its channel's own time, split where words leave a gap."""
    speech = [np.asarray(s).reshape(-1, 2) for s in speech_by_channel]
    found: list[list[Utterance]] = [[] for _ in speech]
    for window in decoded:
        if invented(window, options):
            log.debug("dropped %r: no_speech_prob %.2f, avg_logprob %.2f", window.text, window.no_speech_prob, window.avg_logprob)
            continue
        words_by_channel: list[list[Word]] = [[] for _ in speech]
        for text, packed_start, packed_end, probability in window.words:
            channel, start, end = packing.locate(packed_start, packed_end)
            if text.strip() and _inside(speech[channel], (start + end) / 2, margin_s=options.word_margin_s):
                words_by_channel[channel].append(Word(text=text.strip(), start_s=start, end_s=end, probability=probability))
        # A window holds speech from all over the call: split it where the words' own times
        # leave a gap, so that an utterance is one stretch of talk.
        for channel, words in enumerate(words_by_channel):
            for group in _split_at_gaps(tuple(words), gap_s=options.utterance_gap_s):
                found[channel].append(
                    Utterance(
                        party=parties[channel],
                        start_s=group[0].start_s,
                        end_s=group[-1].end_s,
                        text=" ".join(w.text for w in group),
                        avg_logprob=window.avg_logprob,
                        language=language,
                        words=group,
                    )
                )
    return tuple(tuple(sorted(u, key=lambda u: u.start_s)) for u in found)


def _split_at_gaps(words: tuple[Word, ...], *, gap_s: float) -> list[tuple[Word, ...]]:
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.start_s - groups[-1][-1].end_s <= gap_s:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [tuple(g) for g in groups]


def invented(window: DecodedWindow, options: AsrOptions) -> bool:
    """Whether Whisper's reading of a window is to be dropped (its words are not needed, so
    speechqa.whisper does not align them)."""
    # Whisper's own rule drops a segment only when it is both likely silent and badly decoded;
    # its fluent inventions on silence ("Редактор субтитров …", avg_logprob -0.48) have
    # no_speech_prob 0.74-0.85, while real speech stayed under 0.6 in 76 of 77 segments of lca49
    # and the asterisk prompts. So the no-speech probability alone decides.
    # A prompt's echo over a tone or hold music ("I'm, like, thinking.") reads at -1.5 to -1.8;
    # no window of real speech in the fixtures read under -0.52.
    return (window.no_speech_prob > options.no_speech_prob_max or window.compression_ratio > options.compression_ratio_max
            or window.avg_logprob < options.avg_logprob_min)


def _inside(speech: np.ndarray, t: float, *, margin_s: float) -> bool:
    return bool(np.any((speech[:, 0] - margin_s <= t) & (speech[:, 1] + margin_s >= t)))
