"""Inputs that broke measurements or messages (issue 18): a DC offset, a WAV header that declares
less data than the file holds, a damaged MP3's decoder chatter, the default model from another
folder, and file notes that must name the file as the batch stores it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import SAMPLES, TEST_CONFIG
from speechqa.audio import read_audio
from speechqa.call import score_call
from speechqa.cli import main
from speechqa.config import parse_config

NO_ASR = parse_config("[measure.asr]\nenabled = false\n", source="no ASR")
FIGURES = ("agent_noise_floor_dbfs", "caller_noise_floor_dbfs", "agent_talk_s", "caller_talk_s",
           "agent_level_dbfs", "caller_level_dbfs", "agent_f0_median_hz")


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    data, rate = sf.read(SAMPLES / "call_en_stereo.wav", dtype="float32", always_2d=True)
    folder = tmp_path_factory.mktemp("dc")
    clean = score_call(SAMPLES / "call_en_stereo.wav", config=NO_ASR).metrics
    return data, rate, folder, clean


@pytest.mark.parametrize("offset", [0.01, 0.05, 0.2])
def test_a_dc_offset_changes_no_measurement(english, offset):
    """Before: 1 % lifted the noise floor from -65 to -40 dBFS, 5 % cut the caller's talk from
    18.5 to 0.4 s, 20 % failed the call as no_speech."""
    data, rate, folder, clean = english
    path = folder / f"dc_{offset}.wav"
    sf.write(path, data + offset, rate, subtype="FLOAT")
    got = score_call(path, config=NO_ASR).metrics
    for name in FIGURES:
        assert got[name] == pytest.approx(clean[name], abs=0.05), name


def test_clipping_is_counted_before_the_offset_is_removed(tmp_path):
    data, rate = sf.read(SAMPLES / "call_en_stereo.wav", dtype="float32", always_2d=True)
    clipped = np.clip(data * 20 + 0.05, -1.0, 1.0)   # clipped at full scale, 5 % above zero on average
    sf.write(tmp_path / "loud.wav", clipped, rate, subtype="FLOAT")
    rec = read_audio(tmp_path / "loud.wav")
    raw_share = max(np.mean(np.abs(ch) >= 0.999) for ch in clipped.T)
    assert rec.clipping_share == pytest.approx(raw_share) and raw_share > 0.05
    assert abs(float(np.asarray(rec.samples).mean())) < 1e-4


def _tone_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_16")
    return path


def _set_data_size(path: Path, size: int) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data") + 4
    raw[at:at + 4] = struct.pack("<I", size)
    path.write_bytes(bytes(raw))


def test_a_wav_header_declaring_less_than_the_file_holds_reads_it_all_and_says_so(tmp_path):
    """Before: 0.03 s read, and the call failed as no_speech."""
    path = _tone_wav(tmp_path / "short_header.wav")
    _set_data_size(path, 480)   # 0.03 s
    rec = read_audio(path)
    assert rec.duration_s == pytest.approx(2.0) and rec.truncated
    assert rec.notes and "declares 480 bytes" in rec.notes[0] and str(path) not in rec.notes[0]
    # A chunk after the data (a LIST of tags) is no sign of a short header.
    tagged = _tone_wav(tmp_path / "tagged.wav")
    raw = bytearray(tagged.read_bytes()) + b"LIST" + struct.pack("<I", 8) + b"INFOabcd"
    raw[4:8] = struct.pack("<I", len(raw) - 8)
    tagged.write_bytes(bytes(raw))
    rec = read_audio(tagged)
    assert rec.duration_s == pytest.approx(2.0) and not rec.truncated and rec.notes == ()


def test_score_warns_about_the_header_once_naming_the_file(tmp_path, capfd):
    from batch_helpers import write_call

    path = write_call(tmp_path / "short_header.wav", seconds=12)
    _set_data_size(path, 480)
    main(["score", "--no-asr", str(path)])
    err = capfd.readouterr().err
    assert err.count("declares 480 bytes") == 1 and f"speechqa: warning: {path}: the WAV header" in err


def test_a_batch_names_a_noted_file_by_its_stored_path_without_the_customer_id(tmp_path, capfd):
    """Before: the worker printed the absolute path with the raw customer id (hash mode)."""
    from batch_helpers import shown, write_call

    path = write_call(tmp_path / "rec/sales/20261122-091500_ag1_5550001.wav", seconds=12)
    _set_data_size(path, 4000)                   # a header never finished
    cut = write_call(tmp_path / "rec/sales/20261122-101500_ag1_5550002.wav", seconds=16, offset_s=14)
    cut.write_bytes(cut.read_bytes()[:len(cut.read_bytes()) * 3 // 4])   # a copy cut short
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    assert main(["batch", str(tmp_path / "rec"), "--out", str(tmp_path / "wh"), "--config", str(config), "--workers", "1"]) == 0
    err = capfd.readouterr().err
    assert f"warning: {shown('sales/20261122-091500_ag1_5550001.wav')}: the WAV header declares 4000 bytes" in err
    assert f"warning: {shown('sales/20261122-101500_ag1_5550002.wav')}: the WAV header declares" in err
    assert "555000" not in err and str(tmp_path) not in err


def test_a_damaged_mp3_is_one_line_not_the_decoders_chatter(tmp_path, capfd):
    """Before: mpg123 added four lines ("Note: Illegal Audio-MPEG-Header ...") to stderr."""
    good = tmp_path / "good.mp3"
    t = np.arange(8000 * 3) / 8000
    sf.write(good, 0.3 * np.sin(2 * np.pi * 440 * t), 8000, format="MP3")
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(good.read_bytes()[:300] + np.random.default_rng(7).bytes(3000))
    assert main(["score", "--no-asr", str(bad)]) == 1
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error [not_audio]: "), err


def test_the_default_model_is_found_from_any_folder_and_a_missing_one_says_where_it_looked(tmp_path, monkeypatch):
    from speechqa.errors import SpeechQAError
    from speechqa.model_path import PROJECT_ROOT, find_model
    from speechqa.runs import model_id
    from speechqa.whisper import load_asr_model

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpeechQAError) as info:
        load_asr_model("models/no-such-model")
    assert info.value.error_type == "model_missing"
    assert f"looked in {tmp_path}/models/no-such-model or {PROJECT_ROOT}/models/no-such-model" in str(info.value)
    if not (PROJECT_ROOT / "models/whisper-base/model.bin").is_file():
        pytest.skip("the Whisper model is not built here (make models)")
    config = parse_config("", source="default")
    assert find_model(config.measure.asr.model) == PROJECT_ROOT / "models/whisper-base"
    assert model_id(config).startswith("whisper-base:")   # hashed as from the project folder
