"""speechqa.audio: every format and every bad input, from synthetic tones written in the test."""

import shutil
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf

from speechqa import audio
from speechqa.audio import Recording, read_audio, require_signal
from speechqa.errors import SpeechQAError

FREQS_HZ = (440.0, 660.0)     # left, right: a swapped pair of channels shows up


def tone(sr: int, channels: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    """(channels, n) float32: 440 Hz on the left (or mono), 660 Hz on the right."""
    t = np.arange(round(sr * seconds)) / sr
    return np.stack([amplitude * np.sin(2 * np.pi * f * t) for f in FREQS_HZ[:channels]]).astype(np.float32)


def tone_fit(x: np.ndarray, freq_hz: float, sr: int) -> float:
    """Correlation of x with its best-fitting sinusoid at freq_hz (phase-free, so codec delay is fine)."""
    x = x[len(x) // 10: -len(x) // 10].astype(np.float64)      # skip codec and resampler edges
    t = np.arange(len(x)) / sr
    basis = np.stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t)], axis=1)
    fitted = basis @ np.linalg.lstsq(basis, x, rcond=None)[0]
    return float(np.corrcoef(x, fitted)[0, 1])


def peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


def check_tones(rec: Recording, *, lossless: bool) -> None:
    for channel, freq in zip(np.asarray(rec.samples), FREQS_HZ):
        if lossless:
            assert tone_fit(channel, freq, rec.sample_rate_hz) > 0.9
        else:
            assert abs(peak_hz(channel, rec.sample_rate_hz) - freq) < 5


def expect_error(error_type: str, path, **kwargs) -> SpeechQAError:
    with pytest.raises(SpeechQAError) as info:
        read_audio(path, **kwargs)
    err = info.value
    assert err.error_type == error_type, str(err)
    assert str(path) in str(err) and "\n" not in str(err)
    return err


def wav_with_tag(path, format_tag: int, payload: bytes, sr: int = 8000) -> None:
    """A hand-made RIFF WAVE whose 'fmt ' carries format_tag (cbSize 0)."""
    fmt = struct.pack("<HHIIHHH", format_tag, 1, sr, 1000, 10, 0, 0)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(payload)) + payload)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def set_data_size(path, size: int) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data") + 4
    raw[at:at + 4] = struct.pack("<I", size)
    path.write_bytes(bytes(raw))


# --- formats -----------------------------------------------------------------------------------

SOUNDFILE_CASES = [  # container, subtype, source rate, channels, lossless
    ("WAV", "PCM_U8", 8000, 1, True),
    ("WAV", "PCM_16", 8000, 2, True),
    ("WAV", "PCM_24", 44100, 2, True),
    ("WAV", "PCM_32", 16000, 1, True),
    ("WAV", "FLOAT", 48000, 2, True),
    ("WAV", "ULAW", 8000, 1, True),
    ("WAV", "ALAW", 8000, 2, True),
    ("WAV", "GSM610", 8000, 1, False),
    ("WAV", "PCM_16", 11025, 1, True),
    ("WAV", "PCM_16", 22050, 2, True),
    ("WAV", "PCM_16", 6000, 1, True),
    ("FLAC", "PCM_24", 44100, 2, True),
    ("FLAC", "PCM_16", 8000, 1, True),
    ("OGG", "VORBIS", 44100, 2, False),
    ("OGG", "OPUS", 48000, 1, False),
    ("MP3", "MPEG_LAYER_III", 44100, 2, False),
    ("RF64", "PCM_16", 8000, 2, True),
]


@pytest.mark.parametrize("container,subtype,sr,channels,lossless", SOUNDFILE_CASES)
def test_reads_soundfile_formats(tmp_path, container, subtype, sr, channels, lossless):
    path = tmp_path / f"tone.{container.lower()}"
    sf.write(path, tone(sr, channels).T, sr, format=container, subtype=subtype)
    rec = read_audio(path)
    assert rec.source_format == f"{container}/{subtype}"
    assert rec.source_sample_rate_hz == sr
    assert rec.sample_rate_hz == (16000 if sr >= 16000 else 8000)
    assert rec.channels == channels
    assert rec.samples.shape == (channels, round(rec.duration_s * rec.sample_rate_hz))
    assert rec.samples.dtype == np.float32 and np.asarray(rec.samples).flags.c_contiguous
    assert rec.duration_s == pytest.approx(1.0, abs=0.002 if lossless else 0.06)
    assert not rec.truncated
    check_tones(rec, lossless=lossless)


SOX_CASES = [  # file name, sox output options, expected format, channels
    ("gsm.wav", ["-e", "gsm-full-rate"], "WAV/GSM610", 1),
    ("alaw.wav", ["-e", "a-law"], "WAV/ALAW", 2),
    ("ulaw.au", ["-e", "u-law"], "AU/ULAW", 1),
]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
@pytest.mark.parametrize("name,options,expected,channels", SOX_CASES)
def test_reads_sox_files(tmp_path, name, options, expected, channels):
    path = tmp_path / name
    sines = ["sine", "440", "sine", "660"][: 2 * channels]
    subprocess.run(["sox", "-n", "-r", "8000", "-c", str(channels), *options, str(path),
                    "synth", "1", *sines, "gain", "-6"], check=True, capture_output=True)
    rec = read_audio(path)
    assert (rec.source_format, rec.channels, rec.sample_rate_hz) == (expected, channels, 8000)
    assert rec.duration_s == pytest.approx(1.0, abs=0.05)      # GSM pads to whole 320-sample blocks
    check_tones(rec, lossless=expected != "WAV/GSM610")


def write_with_pyav(path, x: np.ndarray, sr: int, codec: str, **options) -> None:
    av = pytest.importorskip("av")
    try:
        av.Codec(codec, "w")
    except Exception:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sr, layout="mono" if len(x) == 1 else "stereo", **options)
        sample_format = stream.codec_context.codec.audio_formats[0].name
        pcm16 = np.round(x * 32767).astype(np.int16)
        for start in range(0, x.shape[1], 1024):
            if sample_format == "fltp":
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, start:start + 1024]),
                                                   format="fltp", layout=stream.layout.name)
            else:
                interleaved = np.ascontiguousarray(pcm16[:, start:start + 1024].T).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout=stream.layout.name)
            frame.sample_rate, frame.pts = sr, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


PYAV_CASES = [  # file name, encoder, rate, channels, expected format, options
    ("call.amr", "libopencore_amrnb", 8000, 1, "av:amr_nb", {"bit_rate": 12200}),
    ("call.m4a", "aac", 44100, 2, "av:aac", {}),
]


@pytest.mark.parametrize("name,codec,sr,channels,expected,options", PYAV_CASES)
def test_reads_what_only_ffmpeg_decodes(tmp_path, name, codec, sr, channels, expected, options):
    path = tmp_path / name
    write_with_pyav(path, tone(sr, channels), sr, codec, **options)
    with pytest.raises(sf.LibsndfileError):
        sf.info(path)                                    # really the fallback, not libsndfile
    rec = read_audio(path)
    assert (rec.source_format, rec.source_sample_rate_hz, rec.channels) == (expected, sr, channels)
    assert rec.sample_rate_hz == (16000 if sr >= 16000 else 8000)
    assert rec.duration_s == pytest.approx(1.0, abs=0.06) and not rec.truncated
    check_tones(rec, lossless=False)


def test_recording_is_read_only(tmp_path, write_wav):
    rec = read_audio(write_wav(tmp_path / "t.wav", tone(8000, 2), 8000))
    with pytest.raises(ValueError):
        rec.samples[0, 0] = 1.0


def test_mulaw_fixture(fixtures_dir):
    rec = read_audio(fixtures_dir / "formats" / "mulaw_16k.wav")
    assert (rec.source_format, rec.sample_rate_hz, rec.channels) == ("WAV/ULAW", 16000, 1)
    assert rec.duration_s == pytest.approx(2.03, abs=0.01) and not rec.truncated
    require_signal(rec)


def test_bad_header_length_fixture_reads_what_is_there(fixtures_dir):
    rec = read_audio(fixtures_dir / "formats" / "bad_header_length.wav")
    assert (rec.sample_rate_hz, rec.channels) == (16000, 1)
    assert rec.duration_s == pytest.approx(18.34, abs=0.01)
    assert rec.truncated
    require_signal(rec)


# --- truncated and streaming headers -----------------------------------------------------------

TRUNCATION_CASES = [("WAV", "PCM_16", 2), ("RF64", "PCM_16", 2), ("WAV", "GSM610", 1),
                    ("FLAC", "PCM_16", 2), ("MP3", "MPEG_LAYER_III", 1), ("OGG", "VORBIS", 1)]


@pytest.mark.parametrize("container,subtype,channels", TRUNCATION_CASES)
def test_file_cut_mid_data_reads_what_is_there(tmp_path, container, subtype, channels):
    whole = tmp_path / "whole"
    noise = 0.05 * np.random.default_rng(3).standard_normal((channels, 80000))   # codecs spend bits on it
    sf.write(whole, (tone(8000, channels, seconds=10.0) + noise).T, 8000, format=container, subtype=subtype)
    raw = whole.read_bytes()
    cut = tmp_path / f"cut.{container.lower()}"
    cut.write_bytes(raw[: len(raw) * 6 // 10])
    assert not read_audio(whole).truncated
    rec = read_audio(cut)
    assert rec.truncated and rec.channels == channels
    assert 3.0 < rec.duration_s < 9.0


def test_streaming_placeholder_sizes_are_not_truncation(tmp_path, write_wav):
    for size in (0, 0xFFFFFFFF):          # what a writer leaves when it never went back to the header
        path = write_wav(tmp_path / f"stream_{size}.wav", tone(8000, 1), 8000)
        set_data_size(path, size)
        rec = read_audio(path)
        assert rec.duration_s == pytest.approx(1.0) and not rec.truncated


# --- bad inputs --------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    expect_error("not_found", tmp_path / "nope.wav")


def test_directory(tmp_path):
    expect_error("is_directory", tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    expect_error("empty_file", path)


def test_header_without_samples(tmp_path, write_wav):
    expect_error("zero_length", write_wav(tmp_path / "zero.wav", np.zeros((1, 0)), 8000))


def test_header_promising_samples_that_are_not_there(tmp_path, write_wav):
    path = write_wav(tmp_path / "hdr.wav", np.zeros((1, 0)), 8000)
    set_data_size(path, 16000)
    assert "cut off" in str(expect_error("zero_length", path))


@pytest.mark.parametrize("name,content", [
    ("notes.wav", b"this is a text file, not a recording\n" * 40),
    ("notes.txt", b"this is a text file, not a recording\n" * 40),
    ("noise.wav", np.random.default_rng(0).bytes(20_000)),
    ("noise.bin", np.random.default_rng(1).bytes(3_000)),
])
def test_not_audio(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    expect_error("not_audio", path)


def test_cut_inside_the_header(tmp_path):
    whole = tmp_path / "whole.ogg"
    sf.write(whole, tone(8000, 1).T, 8000, format="OGG", subtype="VORBIS")
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(whole.read_bytes()[:200])
    assert "cut off" in str(expect_error("not_audio", cut))


@pytest.mark.parametrize("format_tag", [0x0133, 0x1234])     # G.729; a tag nobody knows
def test_unsupported_codec(tmp_path, format_tag):
    path = tmp_path / "codec.wav"
    wav_with_tag(path, format_tag, np.random.default_rng(2).bytes(4000))
    assert f"0x{format_tag:04X}" in str(expect_error("unsupported_codec", path))


def test_too_many_channels(tmp_path, write_wav):
    path = write_wav(tmp_path / "quad.wav", np.zeros((4, 800)) + 0.1, 8000)
    assert "remix 1 2" in str(expect_error("too_many_channels", path))


def test_too_long_from_the_header(tmp_path, write_wav):
    path = write_wav(tmp_path / "long.wav", tone(8000, 2, seconds=2.0), 8000)
    err = expect_error("too_long", path, max_duration_s=1.0)
    assert "is 2.0 s long; the maximum is 1.0 s (max_duration_s in [measure])" in str(err)
    assert read_audio(path, max_duration_s=2.0).duration_s == pytest.approx(2.0)


def test_too_long_without_a_duration_in_the_header(tmp_path, monkeypatch):
    path = tmp_path / "call.amr"
    write_with_pyav(path, tone(8000, 1, seconds=2.0), 8000, "libopencore_amrnb", bit_rate=12200)
    expect_error("too_long", path, max_duration_s=1.0)
    monkeypatch.setattr(audio, "_pyav_duration_s", lambda container, stream: None)
    expect_error("too_long", path, max_duration_s=1.0)          # caught while decoding


@pytest.mark.parametrize("limit", [0, -1.0, float("nan"), float("inf")])
def test_bad_max_duration(tmp_path, write_wav, limit):
    path = write_wav(tmp_path / "t.wav", tone(8000, 1), 8000)
    with pytest.raises(SpeechQAError) as info:
        read_audio(path, max_duration_s=limit)
    assert info.value.error_type == "bad_config"


# --- require_signal ----------------------------------------------------------------------------


def recording(samples: np.ndarray) -> Recording:
    samples = samples.astype(np.float32)
    return Recording(path="call.wav", samples=samples, sample_rate_hz=8000, source_sample_rate_hz=8000,
                     channels=len(samples), duration_s=samples.shape[1] / 8000,
                     source_format="WAV/PCM_16", truncated=False)


def test_all_zero_stereo_has_no_signal():
    with pytest.raises(SpeechQAError) as info:
        require_signal(recording(np.zeros((2, 8000))))
    assert info.value.error_type == "no_speech" and "call.wav" in str(info.value)


def test_one_silent_channel_is_fine():
    samples = tone(8000, 2)
    samples[1] = 0.0
    require_signal(recording(samples))


def test_signal_floor():
    quiet = tone(8000, 1, amplitude=10 ** (-80 / 20))            # peaks at -80 dBFS
    with pytest.raises(SpeechQAError):
        require_signal(recording(quiet))
    require_signal(recording(quiet), min_peak_dbfs=-90.0)
    with pytest.raises(SpeechQAError) as info:
        require_signal(recording(quiet), min_peak_dbfs=3.0)
    assert info.value.error_type == "bad_config"
