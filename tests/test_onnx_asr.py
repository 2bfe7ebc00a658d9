"""The second recogniser's plumbing (speechqa.onnx_asr, the `onnx-asr` extra), with a tiny CTC
model the tests build: its log-probabilities are picked from the log-mel features, so a 200 Hz
tone reads "да", a 3 kHz tone "нет" and silence nothing. No weights are downloaded."""

import dataclasses
import hashlib

import numpy as np
import pytest

from speechqa.asr import Transcriber
from speechqa.errors import SpeechQAError
from speechqa.onnx_asr import SIDECAR, words_from_tokens
from speechqa.options import AsrOptions

RATE = 16000
BINS = 80


def build_tiny_ctc(folder):
    """A NeMo-CTC-shaped ONNX model (features (N, bins, T) and lengths in, log-probabilities
    (N, T, 3) out; blank first) with its tokens and sidecar."""
    pytest.importorskip("sherpa_onnx")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.full((BINS, 3), -1.0 / BINS, np.float32)
    weights[:, 0] = 0.0
    weights[5:10, 1] += 1.0 / 5     # the mel bins around 200 Hz, above the spectrum's mean: "да"
    weights[53:58, 2] += 1.0 / 5    # around 3 kHz: "нет"
    bias = np.array([3.0, 0.0, 0.0], np.float32)   # blank unless a band stands out
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["audio_signal"], ["x"], perm=[0, 2, 1]),
         helper.make_node("MatMul", ["x", "W"], ["y"]),
         helper.make_node("Add", ["y", "B"], ["z"]),
         helper.make_node("LogSoftmax", ["z"], ["logprobs"], axis=-1)],
        "tiny_ctc",
        [helper.make_tensor_value_info("audio_signal", TensorProto.FLOAT, ["N", BINS, "T"]),
         helper.make_tensor_value_info("length", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("logprobs", TensorProto.FLOAT, ["N", "T", 3])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {"vocab_size": "3", "subsampling_factor": "1", "normalize_type": ""}.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.save(model, folder / "model.onnx")
    (folder / "tokens.txt").write_text("<blk> 0\n▁да 1\n▁нет 2\n", encoding="utf-8")
    digests = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("model.onnx", "tokens.txt")}
    (folder / SIDECAR).write_text(
        'family = "nemo_ctc"\nmodel = "model.onnx"\ntokens = "tokens.txt"\nsample_rate_hz = 16000\n'
        'feature_dim = 80\nlanguage = "ru"\nframe_s = 0.01\n\n[sha256]\n'
        + "".join(f'"{name}" = "{digest}"\n' for name, digest in digests.items()),
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def tiny(tmp_path):
    return build_tiny_ctc(tmp_path)


def tone(hz: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.hanning(t.size) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_a_stereo_call_reads_each_party_at_its_own_times(tiny):
    samples = np.zeros((2, 6 * RATE), np.float32)
    samples[0, RATE: RATE + RATE // 2] = tone(200)           # agent: "да" at 1.0 s
    samples[1, 3 * RATE: 3 * RATE + RATE // 2] = tone(3000)  # caller: "нет" at 3.0 s
    samples[0, 5 * RATE: 5 * RATE + RATE // 2] = tone(200)   # agent: "да" at 5.0 s
    speech = [np.array([[1.0, 1.5], [5.0, 5.5]]), np.array([[3.0, 3.5]])]
    transcriber = Transcriber(AsrOptions(model=str(tiny), language="auto"))
    found = transcriber.transcribe(samples, RATE, speech, first_channel=0)
    assert (found.language, found.method, found.language_probability) == ("ru", "model", None)
    agent, caller = found.channels
    assert [(u.party, u.text) for u in agent] == [("left", "да"), ("left", "да")]
    assert [(u.party, u.text) for u in caller] == [("right", "нет")]
    # each word where its tone rises (a Hann window: loud enough some 0.05-0.15 s in), in its channel's time
    starts = [u.start_s - onset for u, onset in zip((*agent, *caller), (1.0, 5.0, 3.0))]
    assert all(0.0 <= d <= 0.25 for d in starts), starts


def test_the_checksums_are_checked_before_loading(tiny):
    (tiny / "tokens.txt").write_text("<blk> 0\n▁нет 1\n▁да 2\n", encoding="utf-8")
    with pytest.raises(SpeechQAError) as info:
        Transcriber(AsrOptions(model=str(tiny)))
    assert info.value.error_type == "model_missing" and "tokens.txt" in str(info.value) and "sha256" in str(info.value)


def test_a_sidecar_without_digests_is_bad_config(tiny):
    text = (tiny / SIDECAR).read_text(encoding="utf-8")
    (tiny / SIDECAR).write_text(text[: text.index("[sha256]")] + "[sha256]\n", encoding="utf-8")
    with pytest.raises(SpeechQAError) as info:
        Transcriber(AsrOptions(model=str(tiny)))
    assert info.value.error_type == "bad_config" and "sha256sum model.onnx" in str(info.value)


def test_another_language_than_the_models_is_bad_config(tiny):
    with pytest.raises(SpeechQAError) as info:
        Transcriber(dataclasses.replace(AsrOptions(model=str(tiny)), language="en"))
    assert info.value.error_type == "bad_config" and "reads 'ru' only" in str(info.value)


def test_words_from_sentencepiece_tokens():
    tokens = ["▁до", "бр", "ый", "▁день", " как", "▁"]
    times = [0.10, 0.18, 0.30, 0.52, 0.90, 1.20]
    words = words_from_tokens(tokens, times, frame_s=0.04, end_s=1.0)
    assert [w for w, _, _ in words] == ["добрый", "день", "как"]
    assert np.allclose([(a, b) for _, a, b in words], [(0.10, 0.34), (0.52, 0.56), (0.90, 0.94)])
    assert words_from_tokens([], [], frame_s=0.04, end_s=1.0) == []
