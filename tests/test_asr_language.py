"""Which language a call is read in, with the model stood in for (no weights, no hub): an
English-only model (`*.en`, CTranslate2's `is_multilingual` false) cannot detect a language, so
"auto" reads English and any other language is refused as bad_config."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from speechqa import asr, whisper
from speechqa.errors import SpeechQAError
from speechqa.options import AsrOptions


def stand_in_model(*, multilingual: bool):
    """What speechqa reads of a faster-whisper WhisperModel to choose the language."""
    return SimpleNamespace(model=SimpleNamespace(is_multilingual=multilingual))


@pytest.fixture
def reads(monkeypatch):
    """The languages the decoder was asked for, and the detections made, by stand-ins for
    speechqa.whisper's encoder, detector and decoder."""
    seen = {"decode": [], "detect": 0}

    def detect(encoded, *, model):
        if not model.model.is_multilingual:   # as CTranslate2 does
            raise RuntimeError("detect_language can only be called on multilingual models")
        seen["detect"] += 1
        return "ru", 0.9

    monkeypatch.setattr(whisper, "encode", lambda audios, *, model, each: np.zeros((len(audios), 1, 1), np.float32))
    monkeypatch.setattr(whisper, "detect_language", detect)
    monkeypatch.setattr(whisper, "decode", lambda encoded, windows, *, model, language, beam_size, prompt, dropped: seen["decode"].append(language) or [])
    return seen


def transcriber(monkeypatch, *, multilingual: bool, **options) -> asr.Transcriber:
    monkeypatch.setattr(asr, "load_asr_model", lambda *a, **k: stand_in_model(multilingual=multilingual))
    return asr.Transcriber(AsrOptions(model="models/whisper-base.en", **options))


def one_call(t: asr.Transcriber) -> asr.Transcript:
    sr = 16000
    samples = np.zeros((2, 5 * sr), np.float32)
    speech = [np.array([[0.5, 2.0]]), np.array([[2.5, 4.0]])]
    return t.transcribe(samples, sr, speech, first_channel=0)


def test_an_english_only_model_reads_auto_as_english(monkeypatch, reads, caplog):
    with caplog.at_level("INFO", logger="speechqa"):
        t = transcriber(monkeypatch, multilingual=False, language="auto")
    assert "reads 'en' only" in caplog.text
    found = one_call(t)
    assert (found.language, found.method, found.language_probability) == ("en", "model", None)
    assert reads == {"decode": ["en"], "detect": 0}


def test_a_multilingual_model_still_detects(monkeypatch, reads):
    found = one_call(transcriber(monkeypatch, multilingual=True, language="auto"))
    assert (found.language, found.method, found.language_probability) == ("ru", "detected", 0.9)
    assert reads == {"decode": ["ru"], "detect": 1}


def test_english_configured_on_an_english_only_model(monkeypatch, reads):
    found = one_call(transcriber(monkeypatch, multilingual=False, language="en"))
    assert (found.language, found.method) == ("en", "config")


@pytest.mark.parametrize("setting", ["language", "agent_language", "caller_language"])
def test_russian_on_an_english_only_model_is_bad_config(monkeypatch, setting):
    with pytest.raises(SpeechQAError) as info:
        transcriber(monkeypatch, multilingual=False, **{setting: "ru"})
    message = str(info.value)
    assert info.value.error_type == "bad_config"
    assert f"{setting} = 'ru'" in message and "English-only" in message and 'set {} = "en"'.format(setting) in message


def test_a_per_party_language_the_model_cannot_read_is_refused_at_the_call_too(monkeypatch, reads):
    t = transcriber(monkeypatch, multilingual=False, language="auto")
    with pytest.raises(SpeechQAError) as info:
        t.transcribe_channel(np.zeros(16000, np.float32), 16000, np.array([[0.1, 0.9]]), party="agent", language="ru")
    assert info.value.error_type == "bad_config"


def test_the_adapter_reads_ctranslate2s_flag():
    assert whisper.is_multilingual(stand_in_model(multilingual=False)) is False
    assert whisper.is_multilingual(stand_in_model(multilingual=True)) is True


def test_two_streams_read_halves_of_a_batch_side_by_side_in_order(monkeypatch):
    """On two threads the model is loaded as two streams of one thread each, and a batch of
    windows is decoded as two parts at the same time (each waits at a barrier for the other),
    the words coming back in the windows' order."""
    from speechqa.packing import DecodedWindow

    loaded = {}
    monkeypatch.setattr(asr, "load_asr_model", lambda *a, **k: loaded.update(k) or stand_in_model(multilingual=True))
    both_reading = threading.Barrier(2, timeout=10)
    parts = []

    def decode(encoded, windows, *, model, language, beam_size, prompt, dropped):
        assert len(encoded) == len(windows)
        parts.append([round(start) for start, _ in windows])
        both_reading.wait()   # raises BrokenBarrierError unless the other part is being read meanwhile
        return [DecodedWindow(text=f"w{round(start)}", avg_logprob=-0.1, no_speech_prob=0.0, compression_ratio=1.0,
                              words=((f"w{round(start)}", (start + end) / 2, (start + end) / 2 + 0.2, 0.9),))
                for start, end in windows]

    monkeypatch.setattr(whisper, "encode", lambda audios, *, model, each: np.zeros((len(audios), 1, 1), np.float32))
    monkeypatch.setattr(whisper, "decode", decode)
    t = asr.Transcriber(AsrOptions(model="models/whisper-base", language="en", threads=2))
    assert (loaded["threads"], loaded["streams"], t.streams) == (1, 2, 2)
    sr = 8000
    found = t.transcribe(np.zeros((2, 100 * sr), np.float32), sr, [np.array([[0.0, 100.0]]), np.zeros((0, 2))], first_channel=0)
    words = [w.text for u in found.channels[0] for w in u.words]
    assert len(parts) == 2 and len(words) == sum(map(len, parts)) >= 4
    assert words == [f"w{start}" for part in sorted(parts) for start in part]   # the windows' order
