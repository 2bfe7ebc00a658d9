"""The segmentation network (speechqa.features.segmentation): the bundled model and its check, and
what it hears in real phone speech: one voice on each channel of a call, two where the channels
are mixed and both speak."""

from __future__ import annotations

import numpy as np
import pytest

from speechqa.errors import SpeechQAError
from speechqa.features.segmentation import (
    BUNDLED_MODEL_PATH,
    FRAME_STEP_S,
    LICENCE_PATH,
    SEGMENTATION_SHA256,
    load_segmentation_model,
    speakers_heard,
)

LCA49 = "calls/lca49_agent-left_caller-right_8k.wav"


@pytest.fixture(scope="module")
def model():
    return load_segmentation_model()


def test_the_bundled_model_loads_checked(model):
    assert model.sha256 == SEGMENTATION_SHA256 and model.model_id.endswith(SEGMENTATION_SHA256[:12])
    assert load_segmentation_model() is model                     # once per process
    notice = LICENCE_PATH.read_text()
    assert "segmentation-3.0" in notice and "MIT License" in notice and "CNRS" in notice
    out = model.log_probs(np.zeros((2, 160000), dtype=np.float32))
    assert out.shape == (2, 589, 7)                # pyannote's frames for 10 s: 9.94 s of them
    assert abs(out.shape[1] * FRAME_STEP_S - 9.94) < 0.01
    np.testing.assert_allclose(np.exp(out).sum(axis=-1), 1.0, atol=1e-4)


def test_a_corrupt_or_absent_model_is_model_missing(tmp_path):
    data = bytearray(BUNDLED_MODEL_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "segmentation.onnx"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(SpeechQAError, match="corrupt or not the expected one") as caught:
        load_segmentation_model(corrupt)
    assert caught.value.error_type == "model_missing"
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(bytes(data[:100_000]))
    with pytest.raises(SpeechQAError, match="could not be loaded by onnxruntime") as caught:
        load_segmentation_model(truncated, expected_sha256=None)
    assert caught.value.error_type == "model_missing"
    with pytest.raises(SpeechQAError, match="not found"):
        load_segmentation_model(tmp_path / "absent.onnx")


def test_silence_and_chunks_past_the_end_are_heard_as_no_one(model):
    silence = np.zeros(8000 * 7, dtype=np.float32)
    heard = speakers_heard(silence, 8000, [0.0, 5.0, 9.0], chunk_s=5.0, model=model)
    assert heard.shape == (3, 3) and np.all(heard == 0)
    with pytest.raises(ValueError, match="starts_s"):
        speakers_heard(silence, 8000, [-1.0], chunk_s=5.0, model=model)


@pytest.mark.slow
def test_one_voice_per_channel_and_two_where_they_are_mixed(fixtures_dir, model):
    """lca49 in 5 s chunks: each channel alone is one voice (a second heard for 0.5 s or more in
    at most 1 in 10 of the chunks where it speaks); mixed to one channel, where both channels speak
    for 1 s or more, a second voice is heard in most chunks (measured: 1 of 41 agent chunks, 2 of
    40 caller chunks; 11 of the 14 mixed chunks)."""
    import soundfile as sf

    path = fixtures_dir / LCA49
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    x, rate = sf.read(path, dtype="float32")
    starts = np.arange(0.0, 230.0, 5.0)
    alone = [speakers_heard(x[:, k], rate, starts, chunk_s=5.0, model=model) for k in (0, 1)]
    for heard in alone:
        speaks = heard[:, 0] >= 1.0
        assert np.mean(heard[speaks, 1] >= 0.5) <= 0.1, heard[speaks]
    mixed = speakers_heard(x.mean(axis=1), rate, starts, chunk_s=5.0, model=model)
    both = (alone[0][:, 0] >= 1.0) & (alone[1][:, 0] >= 1.0)
    assert both.sum() >= 10 and np.mean(mixed[both, 1] >= 0.5) >= 0.6, mixed[both]
