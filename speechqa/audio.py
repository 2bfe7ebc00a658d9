"""Read and validate one recording: the only module in speechqa that opens audio files.

`read_audio` decodes with libsndfile (soundfile) and falls back to FFmpeg (PyAV) for what
libsndfile cannot read (AMR, AAC/m4a, G.723.1, ...). It reads in blocks and resamples each block
with a streaming resampler (soxr) straight into a temporary float32 file
(`speechqa.sample_file`, unlinked as soon as it is open), which the measurement reads back a
block at a time: a call costs a few blocks of memory however long it is. `Recording.close()`
(or `with read_audio(...) as recording:`) frees the file at once; else it goes with the
Recording. A Recording made in memory holds an array instead; both slice alike.

- Analysis rate: 16 kHz when the source is sampled at 16 kHz or more, else 8 kHz.
- Channels: mono or stereo (agent and caller). More channels are refused (too_many_channels)
  rather than cut down to "the first two": in a multi-track export those are not necessarily the
  two parties, and a silently wrong channel pair would mislabel every metric.
- `truncated=True`: the file holds less than its header promised (WAV/RF64 data size beyond the
  end of the file, FLAC/MP3 frame count not reached, an Ogg stream without a complete
  end-of-stream page, a decoder error mid-stream). Whatever decoded before the cut is returned.
- Float sources: NaN and infinite samples become 0; nothing is clipped.
- DC removed: each channel, as read back, less its mean, so a recorder's DC offset reaches no
  measurement (the VAD, levels, pitch, the noise floor, diarization, the recogniser). On the
  English sample a 1 % offset had raised the noise floor from -65 to -40 dBFS, 5 % cut the
  caller's talk from 18.5 s to 0.4 s, 20 % left no speech; now all three measure as the clean file.
  The mean, not a high-pass: an offset is constant over a call, and subtracting a constant shifts
  no phase and leaves no tail. Causal Butterworth high-passes were tried and dropped: at 1-20 Hz
  their phase shift moved a diarized segment of the Russian sample to the other speaker, at 0.5 Hz
  the tail after each word lifted the digital silence between words enough to move the VAD's word
  edges by 0.1 s; a baseline drawn through 10 s means moved an edge too. A drifting offset is
  therefore removed only on average. Clipping is counted before (an offset moves a clipped
  plateau off full scale): `Recording.clipping_share`.
- `notes`: what the reader noticed that the caller should tell (the header and the data
  disagree), without the path: whoever shows a note names the file as it shows files (the batch
  by its relative path, a customer id in the name hashed), so nothing here logs above DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from speechqa.containers import (WavHeader, decoder_chatter_to_debug, looks_like_mp3, ogg_unfinished,
                                 opener_with_data_size, read_wav_header)
from speechqa.errors import SpeechQAError
from speechqa.names import PARTIES
from speechqa.sample_file import SampleFile, SampleFileWriter

logger = logging.getLogger(__name__)

NARROWBAND_RATE_HZ = 8000
WIDEBAND_RATE_HZ = 16000
MAX_CHANNELS = 2

_BLOCK_FRAMES = 1 << 16        # frames per read: 512 KiB of float32 stereo
_RETRY_BLOCK_FRAMES = 1024     # after a decode error, re-read up to the cut in small steps
_PEAK_BLOCK = 1 << 20          # samples a channel's peak is looked for in at a time
_MP3_LENGTH_SLACK = 0.01       # mpg123 may estimate an MP3's length: allow 1 % before calling it cut
CLIPPED_AT = 0.999             # a sample this close to full scale counts as clipped (quality.clipping_share)
# WAV format tags libsndfile decodes (PCM, MS/IMA ADPCM, float, G.711, GSM): when those fail, the
# header is broken; any other tag that neither decoder takes is an unsupported codec.
_WAV_LIBSNDFILE_TAGS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031}
_WAV_TAG_NAMES = {0x0022: "TrueSpeech", 0x0050: "MPEG", 0x0055: "MP3", 0x00FF: "AAC",
                  0x0133: "G.729", 0x0134: "G.729A", 0x0161: "WMA"}


@dataclass(frozen=True, eq=False)
class Recording:
    """One decoded recording at the analysis rate. `samples` is read-only: a float32
    (channels, n) array, or a SampleFile (what read_audio gives) that slices like one."""

    path: str
    samples: np.ndarray | SampleFile   # float32, shape (channels, n), at sample_rate_hz
    sample_rate_hz: int          # 16000 when the source is >= 16 kHz, else 8000
    source_sample_rate_hz: int
    channels: int
    duration_s: float
    source_format: str           # "WAV/ULAW", "FLAC/PCM_24", "av:amr_nb"
    truncated: bool              # the header and the data disagree: cut off, or a header never finished
    clipping_share: float | None = None   # samples at full scale, the worse channel, before DC removal; None: count `samples`
    notes: tuple[str, ...] = ()  # what the reader noticed, without the path (see the module docstring)

    def close(self) -> None:
        """Free the temporary sample file now (nothing to do for samples held in memory)."""
        if isinstance(self.samples, SampleFile):
            self.samples.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def analysis_rate_hz(source_rate_hz: int) -> int:
    """The rate a source is analysed at: 16 kHz from a 16 kHz or better source, else 8 kHz."""
    return WIDEBAND_RATE_HZ if source_rate_hz >= WIDEBAND_RATE_HZ else NARROWBAND_RATE_HZ


def read_audio(path: str | os.PathLike, *, max_duration_s: float = 14400.0) -> Recording:
    """Decode one recording to float32 (channels, n) at the analysis rate.

    Raises SpeechQAError: not_found, is_directory, unreadable, empty_file, not_audio,
    unsupported_codec, zero_length, too_many_channels, too_long; bad_config for a bad limit.
    """
    if not (isinstance(max_duration_s, numbers.Real) and math.isfinite(max_duration_s)
            and max_duration_s > 0):
        raise SpeechQAError(
            f"max_duration_s={max_duration_s!r} is not a positive number of seconds; "
            "set max_duration_s in [measure] (14400 = 4 h)",
            error_type="bad_config",
        )
    max_duration_s = float(max_duration_s)
    name = os.fsdecode(os.fspath(path))
    size = _check_file(name)
    notes = []
    try:
        wav = read_wav_header(name, size)
        opener = None
        if wav is not None and wav.understated:
            # A recorder killed before it fixed the header leaves a data size short of the data
            # (often 0): libsndfile would read only what the header says. Read what is there.
            opener = opener_with_data_size(name, wav, size)
            notes.append(f"the WAV header declares {wav.data_declared} bytes of audio but {wav.data_available} "
                         "follow it (a header never finished); read them all, flagged truncated")
        with decoder_chatter_to_debug(name, looks_like_mp3(name)):
            failures = [_decode_soundfile(name, size, max_duration_s, opener=opener)]
        if isinstance(failures[-1], _Failure):
            logger.debug("%s: libsndfile cannot decode it (%s); trying FFmpeg", name, failures[-1].detail)
            failures.append(_decode_pyav(name, size, max_duration_s))
    except OSError as exc:             # e.g. a network share that went away mid-read
        raise SpeechQAError(f"{name} cannot be read ({exc.strerror or exc}); check the file and its share",
                            error_type="unreadable") from None
    decoded = failures.pop()
    if isinstance(decoded, _Failure):
        raise _undecodable(name, wav, [*failures, decoded])

    samples = decoded.samples
    rate = analysis_rate_hz(decoded.source_rate_hz)
    if samples.shape[1] == 0:
        samples.close()
        raise SpeechQAError(f"{name} decodes to no samples ({decoded.source_format}); the recording is "
                            "empty: export it again", error_type="zero_length")
    truncated = decoded.cut or bool(notes)
    if wav is not None and wav.data_declared is not None and wav.data_declared > wav.data_available:
        notes.append(f"the WAV header declares {wav.data_declared} bytes of audio but the file holds "
                     f"{wav.data_available}; read what is there, flagged truncated")
        truncated = True
    elif decoded.cut:
        notes.append("the file ends before its header says it should; read what is there, flagged truncated")
    for note in notes:
        logger.debug("%s: %s", name, note)
    return Recording(path=name, samples=samples, sample_rate_hz=rate,
                     source_sample_rate_hz=decoded.source_rate_hz,
                     channels=samples.shape[0], duration_s=samples.shape[1] / rate,
                     source_format=decoded.source_format, truncated=truncated,
                     clipping_share=decoded.clipping_share, notes=tuple(notes))


def read_two_legs(agent_path: str | os.PathLike, caller_path: str | os.PathLike, *,
                  max_duration_s: float = 14400.0) -> Recording:
    """One call recorded as one file per party, as a stereo Recording: agent left (channel 0),
    caller right; `path` is the agent leg's.

    Both legs come to the lower of their analysis rates (a 16 kHz leg beside an 8 kHz one is
    resampled down: nothing is invented), and the shorter leg is padded with zeros at its end.
    A two-channel leg whose channels carry one signal (correlation >= 0.95, quality's dual_mono
    threshold) is mixed to mono, one with a digitally silent channel gives its other channel;
    any other is refused (too_many_channels): mixing it would put two parties on one side.
    Raises what read_audio raises, with the same error_type and the leg named.
    """
    legs = []
    try:
        for role, path in zip(PARTIES, (agent_path, caller_path)):
            try:
                legs.append(read_audio(path, max_duration_s=max_duration_s))
            except SpeechQAError as exc:
                raise SpeechQAError(f"{role} leg: {exc}", error_type=exc.error_type) from None
        weights = [_leg_weights(role, leg) for role, leg in zip(PARTIES, legs)]
        rate = min(leg.sample_rate_hz for leg in legs)
        samples = _write_side_by_side(agent_path, [_leg_signal(leg, w, rate) for leg, w in zip(legs, weights)])
    finally:
        for leg in legs:
            leg.close()
    agent, caller = legs
    return Recording(path=agent.path, samples=samples, sample_rate_hz=rate,
                     source_sample_rate_hz=min(agent.source_sample_rate_hz, caller.source_sample_rate_hz),
                     channels=2, duration_s=samples.shape[1] / rate,
                     source_format=f"two legs: {agent.source_format} + {caller.source_format}",
                     truncated=agent.truncated or caller.truncated,
                     clipping_share=max(leg.clipping_share or 0.0 for leg in legs),
                     notes=tuple(f"{role} leg: {note}" for role, leg in zip(PARTIES, legs) for note in leg.notes))


def _leg_weights(role: str, leg: Recording) -> np.ndarray:
    """How a leg's channels mix into its one signal: (1,) for mono; (0.5, 0.5) for two channels
    carrying one signal, (1, 1) when one of them is digitally silent (it adds nothing); raises
    too_many_channels for two that differ."""
    if leg.channels == 1:
        return np.ones(1, dtype=np.float32)
    sums = np.zeros(3)   # left.left, right.right, left.right
    for a in range(0, leg.samples.shape[1], _BLOCK_FRAMES):
        left, right = (leg.samples[c, a:a + _BLOCK_FRAMES].astype(np.float64) for c in (0, 1))
        sums += (np.dot(left, left), np.dot(right, right), np.dot(left, right))
    left_energy, right_energy, cross = sums
    correlation = cross / math.sqrt(left_energy * right_energy) if left_energy > 0 and right_energy > 0 else 1.0
    if correlation < 0.95:
        raise SpeechQAError(
            f"{role} leg: {leg.path} has two channels that differ (correlation "
            f"{correlation:.2f}); a leg holds one party: export the legs as mono, or if this "
            "file is a whole stereo call, rename it so that pair_pattern does not take it for a leg",
            error_type="too_many_channels",
        )
    both = left_energy > 0 and right_energy > 0
    return np.full(2, 0.5 if both else 1.0, dtype=np.float32)


def _leg_signal(leg: Recording, weights: np.ndarray, rate: int):
    """A leg's one signal at `rate`, a block at a time."""
    resampler = (None if leg.sample_rate_hz == rate
                 else soxr.ResampleStream(leg.sample_rate_hz, rate, 1, dtype="float32"))
    n = leg.samples.shape[1]
    for a in range(0, n, _BLOCK_FRAMES):
        block = leg.samples[0, a:a + _BLOCK_FRAMES]
        if len(weights) == 2:
            block = (block + leg.samples[1, a:a + _BLOCK_FRAMES]) * weights[0]
        yield block if resampler is None else resampler.resample_chunk(block, last=a + _BLOCK_FRAMES >= n)


def _side_by_side(streams: list) -> Iterator[np.ndarray]:
    """(2, frames) blocks of two streams of 1-D blocks, the shorter padded with zeros at its end."""
    pending = [np.zeros(0, np.float32) for _ in streams]
    live = [True] * len(streams)
    while True:
        for i, stream in enumerate(streams):
            while live[i] and len(pending[i]) < _BLOCK_FRAMES:
                piece = next(stream, None)
                if piece is None:
                    live[i] = False
                else:
                    pending[i] = np.concatenate([pending[i], piece])
        if not any(live) and not any(len(p) for p in pending):
            return
        k = min(len(p) for p, alive in zip(pending, live) if alive) if any(live) else max(map(len, pending))
        block = np.zeros((len(streams), k), dtype=np.float32)
        for i, p in enumerate(pending):
            block[i, :min(k, len(p))] = p[:k]
            pending[i] = p[k:]
        yield block


def require_signal(recording: Recording, *, min_peak_dbfs: float = -70.0) -> None:
    """Raise SpeechQAError(no_speech) when no channel peaks at or above `min_peak_dbfs`."""
    if not (math.isfinite(min_peak_dbfs) and min_peak_dbfs <= 0):
        raise SpeechQAError(
            f"min_peak_dbfs={min_peak_dbfs!r} must be a finite level at or below 0 dBFS (default -70)",
            error_type="bad_config",
        )
    peaks_dbfs = [_peak_dbfs(channel) for channel in recording.samples]
    if not peaks_dbfs or max(peaks_dbfs) < min_peak_dbfs:
        shown = ", ".join(f"{p:.1f}" for p in peaks_dbfs) or "no channels"
        raise SpeechQAError(
            f"{recording.path} carries no signal on any channel (peak {shown} dBFS, floor "
            f"{min_peak_dbfs:.1f} dBFS); the recorder captured silence: check its input and channel mapping",
            error_type="no_speech",
        )
    for channel, peak in enumerate(peaks_dbfs):
        if peak < min_peak_dbfs:
            logger.info("%s: channel %d is silent (peak %.1f dBFS)", recording.path, channel, peak)


# --- checks ------------------------------------------------------------------------------------


def _check_file(name: str) -> int:
    try:
        st = os.stat(name)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        raise SpeechQAError(f"{name} does not exist; check the path", error_type="not_found") from None
    except OSError as exc:
        raise SpeechQAError(f"{name} cannot be read ({exc.strerror}); check its permissions",
                            error_type="unreadable") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpeechQAError(f"{name} is a directory, not a recording; pass one audio file (the pipeline "
                            "walks folders)", error_type="is_directory")
    if not stat.S_ISREG(st.st_mode):
        raise SpeechQAError(f"{name} is not a regular file (a device, pipe or socket); copy the recording "
                            "to a file first", error_type="not_audio")
    if st.st_size == 0:
        raise SpeechQAError(f"{name} is empty (0 bytes); the recording was never written or the copy "
                            "failed: fetch it again", error_type="empty_file")
    if not os.access(name, os.R_OK):
        raise SpeechQAError(f"{name} cannot be read (permission denied); check its permissions",
                            error_type="unreadable")
    return st.st_size


def _check_layout(name: str, channels: int, rate_hz: int) -> None:
    if channels > MAX_CHANNELS:
        raise SpeechQAError(
            f"{name} has {channels} channels; speechqa reads mono or two-channel stereo (agent and "
            "caller): extract the two call channels first, e.g. `sox in.wav out.wav remix 1 2`",
            error_type="too_many_channels",
        )
    if channels < 1 or rate_hz <= 0:
        raise SpeechQAError(
            f"{name} declares {channels} channels at {rate_hz} Hz, which cannot be audio; "
            "the header is damaged: export the recording again",
            error_type="not_audio",
        )


def _check_duration(name: str, duration_s: float, max_duration_s: float) -> None:
    if duration_s > max_duration_s:
        length, limit = _format_durations(duration_s, max_duration_s)
        raise SpeechQAError(
            f"{name} is {length} long; the maximum is {limit} (max_duration_s in [measure]); "
            "split the file or raise the limit",
            error_type="too_long",
        )


def _format_durations(duration_s: float, limit_s: float) -> tuple[str, str]:
    """Both in the limit's unit, with enough decimals that they differ."""
    unit, scale = ("h", 3600.0) if limit_s >= 3600 else ("min", 60.0) if limit_s >= 60 else ("s", 1.0)
    for decimals in range(1, 5):
        length, limit = f"{duration_s / scale:.{decimals}f} {unit}", f"{limit_s / scale:.{decimals}f} {unit}"
        if length != limit:
            break
    return length, limit


def _peak_dbfs(channel: np.ndarray) -> float:
    """A channel's peak level, a block at a time (a SampleFile's channel is read, not held)."""
    peak = 0.0
    for a in range(0, len(channel), _PEAK_BLOCK):
        block = channel[a:a + _PEAK_BLOCK]
        peak = max(peak, float(block.max()), -float(block.min()))   # no abs(): no temporary copy
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def _undecodable(name: str, wav: WavHeader | None, failures: list[_Failure]) -> SpeechQAError:
    details = "; ".join(f.detail for f in failures)
    if any(f.kind == "damaged" for f in failures):
        return SpeechQAError(
            f"{name} is damaged or cut off before its first sample ({details}); no audio can be "
            "recovered from it: copy or export it again",
            error_type="not_audio",
        )
    if any(f.kind == "empty" for f in failures):
        if wav is not None and wav.data_declared and wav.byte_rate:
            return SpeechQAError(
                f"{name}: the WAV header promises {wav.data_declared / wav.byte_rate:.1f} s of audio but "
                "the file ends before the first sample; it was cut off: copy or export it again",
                error_type="zero_length",
            )
        return SpeechQAError(
            f"{name} has a valid header but no samples ({details}); the recording is empty: export it again",
            error_type="zero_length",
        )
    if wav is not None and wav.format_tag is not None and wav.format_tag not in _WAV_LIBSNDFILE_TAGS:
        codec = _WAV_TAG_NAMES.get(wav.format_tag, "unknown codec")
        return SpeechQAError(
            f"{name} is a WAV file with format tag 0x{wav.format_tag:04X} ({codec}), which neither "
            "libsndfile nor FFmpeg here can decode; export it as PCM or G.711 WAV (or FLAC) instead",
            error_type="unsupported_codec",
        )
    if any(f.kind == "no_decoder" for f in failures):
        return SpeechQAError(
            f"{name} is audio in a codec this installation cannot decode ({details}); "
            "export it as WAV or FLAC instead",
            error_type="unsupported_codec",
        )
    return SpeechQAError(
        f"{name} is not audio that libsndfile or FFmpeg recognise ({details}); check that it is a "
        "recording, or convert it to WAV with sox or ffmpeg",
        error_type="not_audio",
    )


# --- decoding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    kind: str       # "empty" (a header, no samples), "damaged", "no_decoder", "unrecognised"
    detail: str


@dataclass(frozen=True)
class _Decoded:
    samples: SampleFile
    source_rate_hz: int
    source_format: str
    cut: bool
    clipping_share: float


class _Sink:
    """Resamples (frames, channels) float32 blocks into a temporary sample file
    (speechqa.sample_file), counting clipped samples and summing each channel for its DC offset."""

    def __init__(self, name: str, source_rate_hz: int, channels: int, *, max_duration_s: float):
        self.name, self.source_rate_hz, self.channels = name, source_rate_hz, channels
        self.max_duration_s = max_duration_s
        self.finite_only = False     # set for float sources: NaN and inf become 0
        self.frames_in = 0
        rate_hz = analysis_rate_hz(source_rate_hz)
        self._resampler = (None if rate_hz == source_rate_hz
                           else soxr.ResampleStream(source_rate_hz, rate_hz, channels, dtype="float32"))
        try:
            self._writer = SampleFileWriter(channels)
        except OSError as exc:
            raise _no_room(name, exc) from None
        self._sums = np.zeros(channels, dtype=np.float64)   # for the DC offset
        self.clipped = np.zeros(channels, dtype=np.int64)   # samples at full scale per channel, before DC removal
        self._finished = False

    def write(self, block: np.ndarray) -> None:
        self.frames_in += len(block)
        if self.frames_in > self.max_duration_s * self.source_rate_hz:
            _, limit = _format_durations(self.max_duration_s, self.max_duration_s)
            raise SpeechQAError(
                f"{self.name} is longer than {limit}, the maximum (max_duration_s in [measure]); "
                "split the file or raise the limit",
                error_type="too_long",
            )
        if self.finite_only:
            np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        self._append(self._resampler.resample_chunk(block) if self._resampler else block)

    def finish(self) -> SampleFile:
        """The (channels, n) samples, each channel read less its mean (DC removed)."""
        if self._resampler is not None:
            self._append(self._resampler.resample_chunk(np.zeros((0, self.channels), np.float32), last=True))
        n = self._writer.frames
        offsets = self._sums / n if n else self._sums
        self._finished = True
        return self._writer.finish(offsets=offsets.astype(np.float32))

    def __enter__(self) -> "_Sink":
        return self

    def __exit__(self, *exc) -> None:
        """A decode that ends without `finish` (an error, no samples) gives the sample file up at
        once, rather than when the traceback holding it is collected."""
        if not self._finished:
            self._writer.close()

    def clipping_share(self) -> float:
        """The worse channel's share of samples at full scale (as quality.clipping_share counts)."""
        n = self._writer.frames
        return float(self.clipped.max() / n) if n else 0.0

    def _append(self, block: np.ndarray) -> None:
        if len(block) == 0:
            return
        self.clipped += np.count_nonzero(block >= CLIPPED_AT, axis=0) + np.count_nonzero(block <= -CLIPPED_AT, axis=0)
        rows = np.ascontiguousarray(block.T)   # (channels, frames): each channel's samples contiguous
        self._sums += rows.sum(axis=1, dtype=np.float64)
        try:
            self._writer.write(rows)
        except OSError as exc:
            raise _no_room(self.name, exc) from None


def _write_side_by_side(name, signals) -> SampleFile:
    """The legs' signals as the channels of one sample file; a temporary folder without room is
    said so (unreadable, with the fix), and the file given up at once."""
    try:
        writer = SampleFileWriter(2)
    except OSError as exc:
        raise _no_room(name, exc) from None
    try:
        for block in _side_by_side(signals):
            writer.write(block)
        return writer.finish()
    except OSError as exc:
        writer.close()
        raise _no_room(name, exc) from None
    except BaseException:
        writer.close()
        raise


def _no_room(name: str, exc: OSError) -> SpeechQAError:
    """The temporary folder is full, gone or not writable: not the recording's fault."""
    return SpeechQAError(
        f"{name}: no room for its decoded samples in the temporary folder {tempfile.gettempdir()} "
        f"({exc.strerror or exc}); free space there or point TMPDIR at a writable folder with room",
        error_type="unreadable",
    )


def _decode_soundfile(name: str, size: int, max_duration_s: float, *, opener=None) -> _Decoded | _Failure:
    """`opener()`: a fresh sf.SoundFile of the file (default: by its name)."""
    opener = opener or (lambda: sf.SoundFile(name))
    try:
        f = opener()
    except sf.LibsndfileError as exc:
        # 3: "supported format but malformed"; 2 and 7 are libsndfile's misleading "system error" texts
        reason = "cannot parse it" if exc.code in (2, 7) else exc.error_string.rstrip(".")
        return _Failure("damaged" if exc.code == 3 else "unrecognised", f"libsndfile: {reason}")
    with f:
        source_format = f"{f.format}/{f.subtype}"
        if f.frames <= 0:
            return _Failure("empty", f"libsndfile: {source_format} with 0 frames")
        _check_layout(name, f.channels, f.samplerate)
        _check_duration(name, f.frames / f.samplerate, max_duration_s)
        with _Sink(name, f.samplerate, f.channels, max_duration_s=max_duration_s) as sink:
            sink.finite_only = f.subtype in ("FLOAT", "DOUBLE")
            block = np.empty((_BLOCK_FRAMES, f.channels), dtype=np.float32)
            cut = False
            while True:
                try:
                    got = f.read(_BLOCK_FRAMES, dtype="float32", out=block)
                except sf.LibsndfileError:
                    cut = True
                    _read_up_to_error(opener, sink, block[:_RETRY_BLOCK_FRAMES])
                    break
                if len(got) == 0:
                    break
                sink.write(got)
            slack = f.frames * _MP3_LENGTH_SLACK if f.format == "MP3" else 0
            cut = cut or sink.frames_in < f.frames - slack
            if f.format == "OGG" and not cut:
                cut = ogg_unfinished(name, size)
            samples = sink.finish()
            return _Decoded(samples, f.samplerate, source_format, cut, sink.clipping_share())


def _read_up_to_error(opener, sink: _Sink, block: np.ndarray) -> None:
    """After a failed block read, recover the frames before the damage in small steps.

    A fresh handle: libsndfile's error state is sticky, so the failed one cannot even seek.
    """
    try:
        with opener() as f:
            f.seek(sink.frames_in)
            while len(got := f.read(len(block), dtype="float32", out=block)):
                sink.write(got)
    except (sf.LibsndfileError, RuntimeError):
        pass


def _decode_pyav(name: str, size: int, max_duration_s: float) -> _Decoded | _Failure:
    try:
        import av
    except ImportError:
        return _Failure("unrecognised", "PyAV is not installed, so FFmpeg was not tried: pip install av")
    try:
        container = av.open(name, mode="r")
    except (av.FFmpegError, OSError) as exc:
        kind = "damaged" if isinstance(exc, EOFError) else "unrecognised"   # EOF inside the header
        return _Failure(kind, f"FFmpeg: {getattr(exc, 'strerror', None) or exc}")
    with container:
        if not container.streams.audio:
            return _Failure("unrecognised", f"FFmpeg: {container.format.long_name} without an audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            return _Failure("no_decoder", f"FFmpeg: {container.format.long_name}, audio codec unknown to it")
        source_format = f"av:{stream.codec_context.codec.canonical_name}"
        declared_s = _pyav_duration_s(container, stream)
        if declared_s is not None:
            _check_duration(name, declared_s, max_duration_s)
        if stream.codec_context.channels and stream.codec_context.sample_rate:   # before decoding
            _check_layout(name, stream.codec_context.channels, stream.codec_context.sample_rate)
        sink, cut = None, False
        with contextlib.ExitStack() as cleanup:   # the sink is made at the first frame
            try:
                for frame in container.decode(stream):
                    block = _frame_block(frame)
                    if sink is None:
                        _check_layout(name, block.shape[1], frame.sample_rate)
                        sink = cleanup.enter_context(_Sink(name, frame.sample_rate, block.shape[1], max_duration_s=max_duration_s))
                    elif (frame.sample_rate, block.shape[1]) != (sink.source_rate_hz, sink.channels):
                        raise SpeechQAError(
                            f"{name} changes from {sink.channels} ch at {sink.source_rate_hz} Hz to {block.shape[1]}"
                            f" ch at {frame.sample_rate} Hz mid-stream; re-encode it to WAV first",
                            error_type="unsupported_codec",
                        )
                    sink.write(block)
            except av.FFmpegError as exc:
                if sink is None:
                    return _Failure("unrecognised", f"FFmpeg: {source_format[3:]} does not decode ({exc})")
                cut = True
            if sink is None or sink.frames_in == 0:
                return _Failure("empty", f"FFmpeg: {source_format[3:]} with 0 samples")
            if container.format.name == "ogg" and not cut:
                cut = ogg_unfinished(name, size)
            samples = sink.finish()
            return _Decoded(samples, sink.source_rate_hz, source_format, cut, sink.clipping_share())


def _pyav_duration_s(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000     # AV_TIME_BASE
    return None


def _frame_block(frame) -> np.ndarray:
    """An FFmpeg audio frame as (frames, channels) float32 in [-1, 1]."""
    raw = frame.to_ndarray()
    channels = frame.layout.nb_channels
    raw = raw.T if frame.format.is_planar else raw.reshape(-1, channels)
    block = np.ascontiguousarray(raw, dtype=np.float32)
    if raw.dtype.kind == "u":
        block -= 128.0
        block /= 128.0
    elif raw.dtype.kind == "i":
        block /= float(2 ** (8 * raw.dtype.itemsize - 1))
    else:
        np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return block
