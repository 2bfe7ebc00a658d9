"""Voice activity detection on one party's channel: an energy floor plus the Silero VAD.

Each party's speech timeline comes from its own channel (criteria.md, "Parties and timelines").
Two detectors vote, and a frame is speech only when both say so:

- **Silero VAD** (v6.2.3, MIT; its weights read from its ONNX file and run in numpy,
  `speechqa.features.silero`: no torch, no onnxruntime). It was chosen on
  telephone audio: the copy bundled in faster-whisper was seen to miss ~40 % of 8 kHz phone
  speech upsampled to 16 kHz, this one ~6 %. The model runs at 8 kHz (256-sample windows) or
  16 kHz (512-sample windows); both give one probability per 32 ms. 16 kHz is the default even
  for telephone audio, see `VadOptions.sample_rate_hz`.
- **An energy floor per channel.** A neural VAD answers "does this sound like a voice?", not "is
  this party talking?", and it has no idea how loud this channel normally is: line hiss, hum,
  comfort noise or a faint leak of the other party can look voice-like to it. Each frame's level
  is compared with the channel's *own* noise floor (a low percentile of its frame levels): what
  does not rise `energy_margin_db` above it is not speech, whatever the network says. Steady
  sounds (hum, hiss, a tone) are the floor wherever they fill the channel, so they can never
  pass. The gate does not catch a leak well above the floor (on a channel that is otherwise
  digital silence, say); that is for the crosstalk check, which compares the two channels.
  The floor is `speechqa.features.noise_floor`'s, on the VAD's own 32 ms frames, and it is the
  one the SNR uses: `detect_speech_with_floor` returns it beside each channel's speech. Where
  the channel has none (digital silence fills its quietest tenth: a muted leg zeroed by the
  recorder) there is no gate, and the network alone decides.
  The margin is `energy_margin_db` (6 dB) unless the floor is steady and the speech near it:
  under noise 30 dB below the speech the quiet ends of words sit within 6 dB of the floor, and
  a fixed margin cut 7 % of lca49's agent. The gate then asks no more than `quiet_speech_db`
  under the channel's loud frames (their 95th percentile level), and no less than the noise's
  own spread allows (`energy_margin_spreads` times the floor minus the 1st percentile, at least
  `energy_margin_min_db`): steady noise spreads ~0.5 dB, so 2 dB over it still keeps it out.
  A wandering floor (a clean line, breath, a room) or speech far above it keeps the 6 dB.
- **Steady noise taken out of what the network hears.** Silero doubts quiet speech under
  steady noise that leaves every word intelligible (lca49's caller: 14 % of her talk lost at
  40 dB SNR). A channel whose floor is steady (`energy_margin_spreads` times its spread under
  `energy_margin_db`: under 2 dB) reaches the network cleaned of its own noise spectrum,
  measured on its quietest frames (`speechqa.features.denoise`, `noise_reduction_db`). Only the
  network's input is cleaned: the gate, the floor, and every level and pitch downstream measure
  the channel as it is. The levels come first, in a pass of their own, to tell which channels
  are steady; the cleaning costs one more pass for their noise spectra and the Wiener gain
  (lca49 under noise: 0.34-0.39 % of real time instead of 0.20 %).
- **Onsets from the energy track.** The network is late on voiceless onsets; each start is moved
  back over at most `onset_extend_s` of contiguous audio above the gate (8 ms steps).

`detect_speech_with_floor` (and `detect_speech`, the intervals alone) return the raw, unbridged
intervals; the timeline module bridges short gaps.
This module never opens an audio file; `load_vad_model` reads only the model it is pointed at.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechqa.errors import SpeechQAError
from speechqa.options import VadOptions
from speechqa.features.denoise import NoiseReducer, NoiseSpectrum
from speechqa.features.model_file import read_model_file, reinstall_fix
from speechqa.features.noise_floor import DIGITAL_SILENCE_DBFS, frame_levels_dbfs, noise_floor_of_levels
from speechqa.features.silero import STATE_SHAPE, SileroNet, probabilities, read_nets
from speechqa.sample_file import is_sample_reader

logger = logging.getLogger("speechqa")

#: sha256 of `silero_vad/data/silero_vad.onnx` in the silero-vad 6.2.3 wheel (MIT).
SILERO_VAD_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
BUNDLED_MODEL_PATH = Path(__file__).resolve().parents[1] / "assets" / "silero_vad.onnx"

# The rates Silero's file holds a network for. Its framing (SileroNet.window, .context): 256 (8 kHz)
# or 512 (16 kHz) samples a window, with the last 32 / 64 samples of the previous window in front.
_BLOCK_FRAMES = 2048  # windows per network call: its intermediates peak at ~22 KB a window and channel (16 kHz)
_CHUNK_WINDOWS = 1875  # the signal is resampled and analysed 60 s (1875 windows of 32 ms) at a time

_LOUD_PERCENTILE = 95.0  # a channel's loud speech: this percentile of its frame levels
_ONSET_SUBFRAMES = 4  # onsets are extended on 8 ms sub-frames (a quarter of a model window)


class VadModel:
    """The Silero VAD network, at each sample rate its file holds; get one from `load_vad_model`.

    Stateless between calls: `speech_probabilities` starts every signal from a zero state.
    """

    def __init__(self, nets: dict[int, SileroNet], *, path: Path, sha256: str):
        self.nets = nets
        self.path = path
        self.sha256 = sha256

    @property
    def model_id(self) -> str:
        """For provenance: which model produced a timeline."""
        return f"silero_vad.onnx sha256:{self.sha256[:12]}"

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((STATE_SHAPE[0], batch, STATE_SHAPE[1]), dtype=np.float32)

    def net(self, sample_rate_hz: int) -> SileroNet:
        """The network (and its framing) at this rate."""
        if sample_rate_hz not in self.nets:
            raise SpeechQAError(
                f"the VAD model at {self.path} has no {sample_rate_hz} Hz network (it has "
                f"{sorted(self.nets)}); set the VAD's sample_rate_hz to one of those.",
                error_type="bad_config",
            )
        return self.nets[sample_rate_hz]

    def __repr__(self) -> str:
        return f"VadModel(path={str(self.path)!r}, {self.model_id})"


def load_vad_model(
    path: str | Path | None = None,
    *,
    expected_sha256: str | None = SILERO_VAD_SHA256,
) -> VadModel:
    """Load the Silero VAD once per process (cached per resolved path and hash).

    path: None = the copy bundled with speechqa. The file's sha256 must equal `expected_sha256`
    (the bundled model's by default, because this module speaks that model's interface); pass
    `expected_sha256=None` to use another Silero v5/v6 ONNX export unchecked.
    """
    resolved = BUNDLED_MODEL_PATH if path is None else Path(path).expanduser().resolve()
    return _load_vad_model(str(resolved), expected_sha256, path is None)


@functools.lru_cache(maxsize=8)
def _load_vad_model(path: str, expected_sha256: str | None, bundled: bool) -> VadModel:
    fix = (
        reinstall_fix("silero_vad.onnx")
        if bundled
        else "point the VAD model path at silero_vad.onnx from the silero-vad 6.2.3 wheel, or "
        "leave it unset to use the copy bundled with speechqa"
    )
    model_path = Path(path)
    data, digest = read_model_file(model_path, name="VAD model", expected_sha256=expected_sha256, fix=fix)
    try:
        nets = read_nets(data)
    except (ValueError, IndexError, KeyError) as exc:   # not ONNX, or not Silero's network
        raise SpeechQAError(
            f"VAD model at {path} could not be read as a Silero v5/v6 ONNX file ({exc}): {fix}.",
            error_type="model_missing",
        ) from None
    logger.debug("loaded VAD model %s (%s Hz)", path, ", ".join(map(str, sorted(nets))))
    return VadModel(nets, path=model_path, sha256=digest)


def speech_probabilities(
    signals: np.ndarray,
    sample_rate_hz: int,
    *,
    model: VadModel,
    options: VadOptions = VadOptions(),
) -> tuple[np.ndarray, float]:
    """Silero speech probability per 32 ms frame, per channel: what `detect_speech` votes with,
    so a channel with a steady noise floor is heard cleaned of it (`noise_reduction_db`; 0 for
    the network's output on the signal as it is).

    signals: 1-D (one channel) or (channels, samples), floats in [-1, 1].
    Returns (probabilities, hop_s): float32 (channels, frames) - one row even for 1-D input -
    and the frame hop in seconds (frame i covers [i * hop_s, (i + 1) * hop_s)). The channels go
    through the network together, each with its own state.
    """
    tracks = _frame_tracks(signals, sample_rate_hz, model, options)
    return tracks.probabilities, tracks.hop_s


@dataclass(frozen=True, eq=False)
class ChannelSpeech:
    """What the VAD found on one channel."""

    intervals_s: np.ndarray
    """Raw (unbridged) speech: float64 (n, 2) [start_s, end_s] rows, sorted, non-overlapping."""
    noise_floor_dbfs: float | None
    """The channel's noise floor (`speechqa.features.noise_floor`), measured on the VAD's 32 ms
    frames at its model rate: the level the energy gate adds `energy_margin_db` to, and the one
    the SNR subtracts. None where digital silence fills the channel's quietest frames."""


def detect_speech_with_floor(
    signals: np.ndarray,
    sample_rate_hz: int,
    *,
    model: VadModel,
    options: VadOptions = VadOptions(),
) -> list[ChannelSpeech]:
    """Speech and noise floor per channel, one list entry per channel (also for 1-D input).

    signals: 1-D (one channel) or (channels, samples), floats in [-1, 1].
    """
    t = _frame_tracks(signals, sample_rate_hz, model, options)
    duration_s = t.samples / options.sample_rate_hz
    found = []
    for p, lv, flv in zip(t.probabilities, t.levels_db, t.fine_levels_db):
        floor = noise_floor_of_levels(lv, percentile=options.noise_floor_percentile)
        found.append(ChannelSpeech(_channel_intervals(p, lv, flv, floor, t.hop_s, duration_s, options), floor))
    return found


def detect_speech(
    signals: np.ndarray,
    sample_rate_hz: int,
    *,
    model: VadModel,
    options: VadOptions = VadOptions(),
) -> list[np.ndarray]:
    """Raw (unbridged) speech intervals per channel: a list of float64 (n, 2) [start_s, end_s].

    signals: 1-D (one channel) or (channels, samples); one list entry per channel either way.
    `detect_speech_with_floor` gives each channel's noise floor with them.
    """
    return [c.intervals_s for c in detect_speech_with_floor(signals, sample_rate_hz, model=model, options=options)]


@dataclass(frozen=True)
class _FrameTracks:
    probabilities: np.ndarray   # (channels, frames) float32
    levels_db: np.ndarray       # (channels, frames) frame RMS levels
    fine_levels_db: np.ndarray  # (channels, frames * _ONSET_SUBFRAMES)
    hop_s: float
    samples: int                # at the VAD's rate


def _frame_tracks(signals: np.ndarray, sample_rate_hz: int, model: VadModel, options: VadOptions) -> _FrameTracks:
    """Every per-frame track the VAD needs, the signal streamed in chunks of _CHUNK_WINDOWS
    windows, so that memory stays bounded whatever the length (a 1-hour call upsampled to
    16 kHz at once would take ~0.5 GB more, and its float64 levels ~2 GB).

    Two passes: the levels first, which tell whether a channel's floor is steady; then the
    network, after a pass for their noise spectra where some are (`speechqa.features.denoise`)."""
    x = _validate(signals, sample_rate_hz)
    rate = options.sample_rate_hz
    window = model.net(rate).window
    channels = x.shape[0]
    windows = _Windows(channels, window)
    levels, fine_levels = [], []
    produced = 0
    for piece, last in _resampled(x, sample_rate_hz, rate, window):
        produced += piece.shape[1]
        frames = windows.take(piece, last)
        if frames.shape[1]:
            levels.append(frame_levels_dbfs(frames, window))
            fine_levels.append(frame_levels_dbfs(frames, window // _ONSET_SUBFRAMES))
    if not levels:
        empty = np.zeros((channels, 0), dtype=np.float32)
        return _FrameTracks(empty, empty.astype(np.float64), empty.astype(np.float64), window / rate, 0)
    levels_db = np.concatenate(levels, axis=1)
    steady = [_steady_floor(channel_levels, options) for channel_levels in levels_db]
    return _FrameTracks(
        probabilities=_network_probabilities(x, sample_rate_hz, model, options, steady),
        levels_db=levels_db,
        fine_levels_db=np.concatenate(fine_levels, axis=1),
        hop_s=window / rate,
        samples=produced,
    )


def _network_probabilities(
    x: np.ndarray, sample_rate_hz: int, model: VadModel, options: VadOptions, steady: list[bool]
) -> np.ndarray:
    """The network's probabilities, (channels, frames); the channels marked steady it hears
    cleaned of their own noise, which takes one more pass for their noise spectra (the signal
    is resampled each time: at the model rate it is never held whole)."""
    rate = options.sample_rate_hz
    net = model.net(rate)
    window = net.window
    channels = x.shape[0]
    reducer = None
    if any(steady):
        chosen = [c for c in range(channels) if steady[c]]
        # A view where it can be (all channels, or one): a fancy-indexed copy of a long call is large.
        some = x if len(chosen) == channels else x[chosen[0]:chosen[0] + 1] if len(chosen) == 1 else x[chosen]
        spectrum = NoiseSpectrum(len(chosen), window, percentile=options.noise_floor_percentile)
        windows = _Windows(len(chosen), window)
        for piece, last in _resampled(some, sample_rate_hz, rate, window):
            frames = windows.take(piece, last)
            if frames.shape[1]:
                spectrum.add(frames, frame_levels_dbfs(frames, window))
        noise = iter(spectrum.power())
        reducer = NoiseReducer(
            [next(noise) if steady[c] else None for c in range(channels)], window,
            max_attenuation_db=options.noise_reduction_db,
        )
    network = _Network(net, model.initial_state(channels))
    windows = _Windows(channels, window)
    for piece, last in _resampled(x, sample_rate_hz, rate, window):
        if reducer is not None:
            piece = reducer.process(piece)
            if last:
                piece = np.concatenate([piece, reducer.flush()], axis=1)
        frames = windows.take(piece, last)
        if frames.shape[1]:
            network.run(frames)
    return np.ascontiguousarray(np.concatenate(network.probs, axis=1))


def _resampled(x: np.ndarray, sample_rate_hz: int, rate: int, window: int):
    """(piece, last) at the model rate, _CHUNK_WINDOWS windows of it at a time."""
    channels, n = x.shape
    resampler = None
    if sample_rate_hz != rate:
        import soxr

        # "HQ" is what librosa uses by default; the stream keeps state across chunks.
        resampler = soxr.ResampleStream(int(sample_rate_hz), rate, channels, dtype="float32", quality="HQ")
    step = max(1, _CHUNK_WINDOWS * window * int(sample_rate_hz) // rate)
    for start in range(0, max(n, 1), step):
        last = start + step >= n
        piece = x[:, start:start + step]
        if resampler is not None:
            piece = np.ascontiguousarray(resampler.resample_chunk(np.ascontiguousarray(piece.T), last=last).T)
        yield piece, last


class _Windows:
    """Cuts a stream of pieces into whole model windows; the last is zero-padded to full length,
    as silero-vad pads it."""

    def __init__(self, channels: int, window: int):
        self.window = window
        self.pending = np.zeros((channels, 0), dtype=np.float32)

    def take(self, piece: np.ndarray, last: bool) -> np.ndarray:
        buf = np.concatenate([self.pending, piece], axis=1) if self.pending.shape[1] else piece
        usable = buf.shape[1] // self.window * self.window
        if last and usable < buf.shape[1]:
            buf = np.concatenate(
                [buf, np.zeros((buf.shape[0], usable + self.window - buf.shape[1]), np.float32)], axis=1
            )
            usable = buf.shape[1]
        self.pending = buf[:, usable:]
        return buf[:, :usable]


class _Network:
    """The network over a stream of whole windows, each channel with its own state; the
    probabilities collect in `probs`."""

    def __init__(self, net: SileroNet, state: np.ndarray):
        self.net = net
        self.state = state
        self.before = np.zeros((state.shape[1], net.context), dtype=np.float32)   # the first window's context
        self.probs: list[np.ndarray] = []

    def run(self, frames: np.ndarray) -> None:
        with_context = np.ascontiguousarray(np.concatenate([self.before, frames], axis=1), dtype=np.float32)
        self.before = with_context[:, -self.net.context:].copy()
        chunk_probs, self.state = _probabilities(with_context, self.net, self.state)
        self.probs.append(chunk_probs)


def _channel_intervals(
    probs: np.ndarray,
    levels_db: np.ndarray,
    fine_levels_db: np.ndarray,
    floor_dbfs: float | None,
    hop_s: float,
    duration_s: float,
    options: VadOptions,
) -> np.ndarray:
    """One channel's frame tracks and noise floor -> its raw speech intervals in seconds."""
    # No floor (digital silence fills the quietest frames): no gate beyond digital silence itself.
    gate_db = (
        DIGITAL_SILENCE_DBFS + options.energy_margin_db if floor_dbfs is None
        else floor_dbfs + gate_margin_db(levels_db, floor_dbfs, options)
    )
    # The two detectors vote: a frame under the energy gate has probability 0 whatever Silero
    # said, so it can neither start speech nor hold it open.
    frames = _hysteresis(np.where(levels_db >= gate_db, probs, 0.0), hop_s, options)
    fine_hop_s = hop_s / _ONSET_SUBFRAMES
    fine = _extend_onsets(
        frames * _ONSET_SUBFRAMES,
        fine_levels_db >= gate_db,
        int(round(options.onset_extend_s / fine_hop_s)),
    )
    return _to_seconds(fine, fine_hop_s, duration_s, options.speech_pad_s)


def gate_margin_db(levels_db: np.ndarray, floor_dbfs: float, options: VadOptions) -> float:
    """How far above its noise floor a frame of this channel must rise to pass the energy gate.

    `energy_margin_db` (6 dB), lowered on two conditions: the floor is steady, so that a smaller
    margin still keeps its noise out, and the speech is near it, so that the full margin would
    cut real speech. The least the noise allows is `energy_margin_spreads` times the floor's
    spread (`_floor_spread_db`), and at least
    `energy_margin_min_db`; the speech wants the gate no higher than `quiet_speech_db` under its
    loud frames (the 95th percentile of frame levels)."""
    least = float(np.clip(options.energy_margin_spreads * _floor_spread_db(levels_db, floor_dbfs, options),
                          options.energy_margin_min_db, options.energy_margin_db))
    room_db = float(np.percentile(levels_db, _LOUD_PERCENTILE)) - options.quiet_speech_db - floor_dbfs
    return float(np.clip(room_db, least, options.energy_margin_db))


def _steady_floor(levels_db: np.ndarray, options: VadOptions) -> bool:
    """Whether the network should hear this channel cleaned of its noise: noise reduction is on
    and the floor is steady (the noise allows a margin under the full one)."""
    if options.noise_reduction_db <= 0:
        return False
    floor = noise_floor_of_levels(levels_db, percentile=options.noise_floor_percentile)
    if floor is None:
        return False
    return options.energy_margin_spreads * _floor_spread_db(levels_db, floor, options) < options.energy_margin_db


def _floor_spread_db(levels_db: np.ndarray, floor_dbfs: float, options: VadOptions) -> float:
    """How steady the noise floor is: the floor less the frame level a tenth as high in rank (the
    10th percentile less the 1st)."""
    return floor_dbfs - float(np.percentile(levels_db, options.noise_floor_percentile / 10.0))


def _validate(signals: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Validate; a (channels, samples) float32 view (a copy only for other float types). A
    recording's sample file (speechqa.sample_file) is float32 and finite by construction: it is
    read a chunk at a time, never whole."""
    if is_sample_reader(signals):
        _check_rate(sample_rate_hz)
        return signals.as_rows()
    x = np.asarray(signals)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"signals must be 1-D (one channel) or 2-D (channels, samples); got shape {x.shape}."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"signals must be floats in [-1, 1]; got dtype {x.dtype} (read the file with "
            "speechqa.audio, or divide integer PCM by its full scale)."
        )
    if x.ndim == 2 and x.shape[0] > x.shape[1] and x.shape[1] <= 8:
        raise ValueError(
            f"signals of shape {x.shape} look like (samples, channels); pass signals.T."
        )
    if x.ndim == 1:
        x = x[np.newaxis, :]
    _check_rate(sample_rate_hz)
    # A float64 sum buffers internally (no full-size temporary) and is NaN/inf if any sample is.
    if not np.isfinite(np.sum(x, dtype=np.float64)):
        raise ValueError("signals contain NaN or infinite samples.")
    return x.astype(np.float32, copy=False)


def _check_rate(sample_rate_hz) -> None:
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, (int, np.integer)) or (
        sample_rate_hz <= 0
    ):
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r} must be a positive integer.")


def _probabilities(
    with_context: np.ndarray, net: SileroNet, state: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (channels, frames) of the windows laid out after `context` leading
    samples, starting from the network `state`; returns them and the state after the last."""
    window, context = net.window, net.context
    channels, total = with_context.shape
    frames = (total - context) // window
    probs = np.empty((frames, channels), dtype=np.float32)
    # Windows are cut, a block of bounded memory at a time, into one contiguous
    # (frames, channels, context + window) array: the network takes a block in one call.
    for block_start in range(0, frames, _BLOCK_FRAMES):
        block_frames = min(_BLOCK_FRAMES, frames - block_start)
        view = np.lib.stride_tricks.as_strided(
            with_context[:, block_start * window :],
            shape=(block_frames, channels, context + window),
            strides=(window * with_context.itemsize, with_context.strides[0], with_context.itemsize),
            writeable=False,
        )
        probs[block_start: block_start + block_frames], state = probabilities(net, np.ascontiguousarray(view), state)
    return probs.T, state


def _hysteresis(probs: np.ndarray, hop_s: float, options: VadOptions) -> np.ndarray:
    """silero-vad's get_speech_timestamps over frame probabilities (no maximum length).

    Returns int (n, 2) [start_frame, end_frame) rows. Speech starts at the first frame >=
    threshold. It ends at the first frame < neg_threshold once min_silence_s has passed from
    there without a frame >= threshold (silero-vad waits one frame longer than asked; here two
    32 ms frames of silence are 0.064 s). Detections of min_speech_s or less are dropped.
    """
    threshold = options.threshold
    neg_threshold = options.effective_neg_threshold
    # Compare in frames, with a small tolerance so that 0.064 s is exactly two 32 ms frames.
    min_silence_frames = options.min_silence_s / hop_s - 1e-9
    min_speech_frames = options.min_speech_s / hop_s + 1e-9
    segments: list[tuple[int, int]] = []
    triggered = False
    start = 0
    temp_end: int | None = None
    for i, p in enumerate(probs.tolist()):
        if p >= threshold:
            temp_end = None
            if not triggered:
                triggered, start = True, i
        elif triggered and p < neg_threshold:
            if temp_end is None:
                temp_end = i
            if i - temp_end + 1 >= min_silence_frames:  # frames temp_end..i were all silence
                if temp_end - start > min_speech_frames:
                    segments.append((start, temp_end))
                triggered, temp_end = False, None
    if triggered:
        end = temp_end if temp_end is not None else len(probs)
        if end - start > min_speech_frames:
            segments.append((start, end))
    return np.asarray(segments, dtype=np.int64).reshape(-1, 2)


def _extend_onsets(frames: np.ndarray, gate: np.ndarray, max_frames: int) -> np.ndarray:
    """Move each start back over up to max_frames contiguous (sub-)frames passing the gate.

    Silero becomes confident on the vowel; a voiceless onset before it (/s/, /t/, /f/), which
    the 300-3400 Hz telephone band weakens further, is otherwise cut by 50-170 ms (measured on
    count.wav through a phone channel). The energy track knows where the sound began. Bounded,
    so that noise above the gate cannot drag a start far, and never into the previous interval.
    """
    out = frames.copy()
    previous_end = 0
    for k in range(len(out)):
        start, limit = out[k, 0], max(previous_end, out[k, 0] - max_frames)
        while start - 1 >= limit and gate[start - 1]:
            start -= 1
        out[k, 0] = start
        previous_end = out[k, 1]
    return out


def _to_seconds(frames: np.ndarray, hop_s: float, duration_s: float, pad_s: float) -> np.ndarray:
    """Frame rows to [start_s, end_s], padded as silero-vad (short gaps split in the middle)."""
    if len(frames) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    seg = frames.astype(np.float64) * hop_s
    seg[:, 1] = np.minimum(seg[:, 1], duration_s)
    gaps = seg[1:, 0] - seg[:-1, 1]
    grow = np.where(gaps < 2 * pad_s, gaps / 2, pad_s)
    seg[:-1, 1] += grow
    seg[1:, 0] -= grow
    seg[0, 0] -= pad_s
    seg[-1, 1] += pad_s
    return np.clip(seg, 0.0, duration_s)
