"""Perturbations of a real call, one behaviour at a time: pure functions over (channels, n)
float arrays at the call's own rate. Each returns a new array; the input stays as it was.

Speech is changed with Praat's PSOLA (parselmouth): it moves pitch and duration without touching
the spectral envelope, so a flattened or faster voice still reads as the same voice to the VAD,
the pitch tracker and the recogniser. Where a change leaves time with nobody speaking, that time
is filled with the channel's own background (its non-speech samples), never with digital zeros,
which would change the noise floor and the SNR the measurement reports.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

# Praat's pitch range for the PSOLA analysis: wide enough for both sexes on phone speech.
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 500.0
_FADE_S = 0.005          # a splice is faded over 5 ms so that it adds no click (a broadband onset the VAD would hear)
_PHONE_BAND_HZ = (300.0, 3400.0)


def _praat():
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError as e:   # pragma: no cover - the test extra installs it
        raise RuntimeError("the validity perturbations need Praat's PSOLA: pip install -e '.[validity]'") from e
    return parselmouth, call


PSOLA_SEED = 20241204


def _resynthesis(manipulation) -> np.ndarray:
    """PSOLA's overlap-add resynthesis of a Manipulation, the same on every run: Praat spaces its
    pseudo-periods in unvoiced stretches at random (compressing the FDA sentences ×1.35 moved their
    median F0 by 0.10-0.60 st from run to run, and a test's 0.5 st bound failed now and then), so
    its generator is seeded first."""
    parselmouth, call = _praat()
    parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({PSOLA_SEED})")
    return call(manipulation, "Get resynthesis (overlap-add)").values[0]


def _copy(x: np.ndarray) -> np.ndarray:
    return np.array(x, dtype=np.float64, copy=True)


def scale_channel(x: np.ndarray, channel: int, gain_db: float) -> np.ndarray:
    """One channel's gain changed by gain_db."""
    out = _copy(x)
    out[channel] *= 10.0 ** (gain_db / 20.0)
    return out


def swap_channels(x: np.ndarray) -> np.ndarray:
    """Left and right exchanged."""
    return _copy(x[::-1])


def mix_mono(x: np.ndarray) -> np.ndarray:
    """Both channels summed into one, as a mixing recorder (Asterisk's MixMonitor) writes the call.
    A sum, not a mean: each party keeps the level it had on its own channel."""
    return np.clip(x.sum(axis=0, keepdims=True), -1.0, 1.0)


def flatten_pitch(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """One channel's voice resynthesised by PSOLA with F0 held at its own median: every word and
    pause where it was, the intonation gone. Unvoiced sounds and silence pass through."""
    parselmouth, call = _praat()
    sound = parselmouth.Sound(np.asarray(signal, dtype=np.float64), sampling_frequency=sample_rate_hz)
    manipulation = call(sound, "To Manipulation", 0.01, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    pitch = call(sound, "To Pitch", 0.01, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    median_hz = call(pitch, "Get quantile", 0, 0, 0.5, "Hertz")
    if not np.isfinite(median_hz):
        raise ValueError("no voiced speech to flatten")
    tier = call("Create PitchTier", "flat", 0, sound.duration)
    call(tier, "Add point", sound.duration / 2, median_hz)   # one point: constant over the whole time
    call([tier, manipulation], "Replace pitch tier")
    return _fit(_resynthesis(manipulation), len(signal))


def flatten_speech(x: np.ndarray, channel: int, sample_rate_hz: int, speech: np.ndarray) -> np.ndarray:
    """`channel`'s speech intervals (s) replaced by their flattened resynthesis, at the energy
    they had (overlap-add of re-spaced periods changes it by about 1 dB), the background between
    them untouched: only the intonation changes, not the level or the noise floor."""
    out = _copy(x)
    flat = flatten_pitch(x[channel], sample_rate_hz)
    mask = np.zeros(x.shape[1], dtype=bool)
    spans = [(max(0, int(s * sample_rate_hz)), min(x.shape[1], int(np.ceil(e * sample_rate_hz))))
             for s, e in np.asarray(speech, dtype=float).reshape(-1, 2)]
    for a, b in spans:
        mask[a:b] = True
    if mask.any():
        flat *= np.sqrt(np.sum(x[channel][mask] ** 2) / max(np.sum(flat[mask] ** 2), 1e-30))
    for a, b in spans:
        _splice(out[channel], a, flat[a:b], sample_rate_hz)
    return out


def compress_speech(signal: np.ndarray, sample_rate_hz: int, speech: list[tuple[float, float]],
                    factor: float) -> np.ndarray:
    """`signal` (one turn of one channel) with each speech stretch in `speech` (s, relative to the
    turn) spoken `factor` times faster by PSOLA, the pauses between them kept as they were. The
    result is shorter by what the speech lost; the caller of this pads it back to its place."""
    parselmouth, call = _praat()
    sound = parselmouth.Sound(np.asarray(signal, dtype=np.float64), sampling_frequency=sample_rate_hz)
    manipulation = call(sound, "To Manipulation", 0.01, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    tier = call("Create DurationTier", "rate", 0, sound.duration)
    edge = 0.002   # a step in a DurationTier needs two points: the rate changes over 2 ms
    call(tier, "Add point", 0, 1.0)
    for start, end in speech:
        start, end = max(start, 2 * edge), min(end, sound.duration - 2 * edge)
        if end - start <= 4 * edge:
            continue
        for t, value in ((start - edge, 1.0), (start + edge, 1 / factor), (end - edge, 1 / factor), (end + edge, 1.0)):
            call(tier, "Add point", t, value)
    call([tier, manipulation], "Replace duration tier")
    return _resynthesis(manipulation)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """y cut or zero-padded to n samples (PSOLA may return a sample more or less)."""
    out = np.zeros(n)
    out[:min(n, len(y))] = y[:n]
    return out


@dataclass(frozen=True)
class Background:
    """A channel's own non-speech samples, to fill time that a perturbation empties."""

    samples: np.ndarray

    def take(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if n <= 0:
            return np.zeros(0)
        if len(self.samples) == 0:
            return np.zeros(n)
        reps = int(np.ceil(n / len(self.samples))) + 1
        looped = np.tile(self.samples, reps)
        start = int(rng.integers(0, len(self.samples)))
        return looped[start:start + n].copy()


def background(signal: np.ndarray, sample_rate_hz: int, speech: np.ndarray, *, margin_s: float = 0.3) -> Background:
    """The samples of `signal` farther than margin_s from any of its speech intervals (s)."""
    keep = np.ones(len(signal), dtype=bool)
    for start, end in np.asarray(speech, dtype=float).reshape(-1, 2):
        a = max(0, int((start - margin_s) * sample_rate_hz))
        b = min(len(signal), int(np.ceil((end + margin_s) * sample_rate_hz)))
        keep[a:b] = False
    return Background(np.asarray(signal, dtype=np.float64)[keep])


def _faded(piece: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    n = min(len(piece) // 2, int(_FADE_S * sample_rate_hz))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n)
        piece = piece.copy()
        piece[:n] *= ramp
        piece[-n:] *= ramp[::-1]
    return piece


def _splice(base: np.ndarray, start: int, piece: np.ndarray, sample_rate_hz: int) -> None:
    """base[start:start+len(piece)] becomes piece, cross-faded at both ends (in place)."""
    end = start + len(piece)
    n = min(len(piece) // 2, int(_FADE_S * sample_rate_hz))
    old = base[start:end].copy()
    base[start:end] = piece
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n)
        base[start:start + n] = old[:n] * (1 - ramp) + piece[:n] * ramp
        base[end - n:end] = piece[-n:] * (1 - ramp) + old[-n:] * ramp


def speed_up_turns(x: np.ndarray, channel: int, sample_rate_hz: int, turns: list[tuple[float, float]],
                   speech: np.ndarray, factor: float, fill: Background, rng: np.random.Generator) -> np.ndarray:
    """Each turn of `channel` spoken `factor` times faster in place: it starts where it started,
    its speech stretches are shorter by 1/factor, its pauses keep their length, and the time the
    turn no longer needs (at its end) is the channel's background."""
    out = _copy(x)
    speech = np.asarray(speech, dtype=float).reshape(-1, 2)
    for start_s, end_s in turns:
        a, b = int(start_s * sample_rate_hz), int(end_s * sample_rate_hz)
        inside = [(max(s, start_s) - start_s, min(e, end_s) - start_s)
                  for s, e in speech if e > start_s and s < end_s]
        fast = compress_speech(x[channel, a:b], sample_rate_hz, inside, factor)[: b - a]
        piece = np.concatenate([fast, fill.take(b - a - len(fast), rng)])
        _splice(out[channel], a, piece, sample_rate_hz)
    return out


def blank(x: np.ndarray, channel: int, sample_rate_hz: int, start_s: float, end_s: float,
          fill: Background, rng: np.random.Generator) -> np.ndarray:
    """What `channel` says from start_s to end_s replaced by its background: cut out, the rest in place."""
    out = _copy(x)
    a, b = int(start_s * sample_rate_hz), int(end_s * sample_rate_hz)
    _splice(out[channel], a, fill.take(b - a, rng), sample_rate_hz)
    return out


def insert_silence(x: np.ndarray, sample_rate_hz: int, at_s: float, gap_s: float,
                   fills: list[Background], rng: np.random.Generator) -> np.ndarray:
    """gap_s of each channel's background inserted at at_s: everything after comes gap_s later."""
    a, n = int(at_s * sample_rate_hz), int(gap_s * sample_rate_hz)
    rows = []
    for channel, fill in zip(x, fills):
        gap = fill.take(n, rng)
        row = np.concatenate([channel[:a], gap, channel[a:]])
        _splice(row, a, gap, sample_rate_hz)   # cross-fade into and out of the gap
        rows.append(row)
    return np.stack(rows)


def overlay(x: np.ndarray, channel: int, sample_rate_hz: int, source: tuple[float, float], at_s: float) -> np.ndarray:
    """The stretch `source` (s) of `channel` copied and added to the same channel at at_s: the
    party says something it said elsewhere, there, over whatever is there."""
    out = _copy(x)
    a, b = int(source[0] * sample_rate_hz), int(source[1] * sample_rate_hz)
    piece = _faded(x[channel, a:b].astype(np.float64), sample_rate_hz)
    start = int(at_s * sample_rate_hz)
    end = min(out.shape[1], start + len(piece))
    out[channel, start:end] += piece[: end - start]
    return out


def phone_band_noise(n: int, sample_rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """White noise band-limited to the telephone band (300-3400 Hz), unit RMS."""
    from scipy.signal import butter, sosfilt

    high = min(_PHONE_BAND_HZ[1], 0.45 * sample_rate_hz)
    sos = butter(6, [_PHONE_BAND_HZ[0], high], btype="bandpass", fs=sample_rate_hz, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n + sample_rate_hz))[sample_rate_hz:]   # the filter's start-up left out
    return noise / np.sqrt(np.mean(noise ** 2))


def add_noise(x: np.ndarray, sample_rate_hz: int, speech_level_dbfs: list[float], snr_db: float,
              rng: np.random.Generator) -> np.ndarray:
    """Phone-band noise on each channel at snr_db below that channel's active speech level (dBFS,
    ITU-T P.56, given: measured on the clean call). An RMS level of noise, as P.56's is of speech."""
    out = _copy(x)
    for channel, level in enumerate(speech_level_dbfs):
        rms = 10.0 ** ((level - snr_db) / 20.0)
        out[channel] += rms * phone_band_noise(out.shape[1], sample_rate_hz, rng)
    return np.clip(out, -1.0, 1.0)


CODECS = ("g711", "gsm", "opus8k")


def codec_round_trip(x: np.ndarray, sample_rate_hz: int, codec: str) -> tuple[np.ndarray, float]:
    """Each channel encoded and decoded as a phone system would carry it; returns the decoded
    audio and the bit rate the encoder actually used (kbit/s per channel, from the encoded size).

    - g711: G.711 µ-law (64 kbit/s at 8 kHz), libsndfile;
    - gsm: GSM 06.10 full rate (13 kbit/s), libsndfile (8 kHz mono only: one channel at a time);
    - opus8k: Opus at 8 kbit/s (PyAV's libopus), the low end of what VoIP trunks use.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: one of {', '.join(CODECS)}")
    rows, bits = [], 0
    for channel in np.asarray(x, dtype=np.float64):
        if codec == "opus8k":
            decoded, size = _opus(channel, sample_rate_hz, 8000)
        else:
            decoded, size = _sndfile(channel, sample_rate_hz, "ULAW" if codec == "g711" else "GSM610")
        rows.append(_fit(decoded, len(channel)))
        bits += 8 * size
    duration_s = x.shape[1] / sample_rate_hz
    return np.stack(rows), bits / duration_s / len(rows) / 1000.0


def _sndfile(signal: np.ndarray, sample_rate_hz: int, subtype: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if subtype == "GSM610" and sample_rate_hz != 8000:
        raise ValueError("GSM 06.10 carries 8 kHz audio only")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(signal, -1.0, 1.0), sample_rate_hz, subtype=subtype, format="WAV")
    size = buffer.tell()
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float64")
    return decoded, size


def _opus(signal: np.ndarray, sample_rate_hz: int, bit_rate: int) -> tuple[np.ndarray, int]:
    """Opus through PyAV (FFmpeg's libopus) in an Ogg container; the payload size, not the
    container's, gives the bit rate."""
    import av

    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    payload = 0
    with av.open(buffer, mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=sample_rate_hz)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        step = sample_rate_hz // 50
        for i in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + step], format="s16", layout="mono")
            frame.sample_rate = sample_rate_hz
            frame.pts = i
            for packet in stream.encode(frame):
                payload += packet.size
                container.mux(packet)
        for packet in stream.encode(None):
            payload += packet.size
            container.mux(packet)
    buffer.seek(0)
    parts = []
    with av.open(buffer, mode="r") as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
    decoded = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
    return decoded, payload
