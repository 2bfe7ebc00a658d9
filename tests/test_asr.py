"""Transcription with the default model: word error rate floors on real recordings, per-party
text, dual mono, no invented words, roles and rules from words on synthetic calls.
Marked `asr`: `make test-fast` leaves these out; `make test` runs them."""

import dataclasses
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from speechqa.asr import Transcriber, load_asr_model
from speechqa.audio import read_audio
from speechqa.call import score_call
from speechqa.config import default_config
from speechqa.errors import SpeechQAError
from speechqa.measure import measure_call
from speechqa.testing import asr_reference_sets, transcribe_file, word_error_rate

pytestmark = pytest.mark.asr
CONFIG = default_config()


@pytest.fixture(scope="module")
def transcriber():
    try:
        return Transcriber(CONFIG.measure.asr)
    except SpeechQAError as exc:
        pytest.skip(f"no speech recogniser: {exc}")


def config_with(**measure_changes):
    return dataclasses.replace(CONFIG, measure=dataclasses.replace(CONFIG.measure, **measure_changes))


@pytest.mark.parametrize("name, floor", [("asterisk_ru", 0.20), ("osr_harvard72_8k", 0.15), ("deepspeech_ru", None), ("pisets_ru", None)])
def test_word_error_rate(fixtures_dir, transcriber, name, floor):
    language, items = asr_reference_sets(fixtures_dir)[name]
    hypotheses = [transcribe_file(p, language=language, transcriber=transcriber, vad_options=CONFIG.measure.vad) for p, _ in items]
    wer = word_error_rate([ref for _, ref in items], hypotheses, language=language)
    print(f"\n[asr] {name}: WER {wer:.1%} over {len(items)} file(s)")
    if floor is not None:
        assert wer < floor


def test_each_channel_has_its_own_text(fixtures_dir, transcriber):
    result = score_call(fixtures_dir / "calls" / "fw_stereo_diarization.wav", config=config_with(agent="left"), transcriber=transcriber)
    text = {party: " ".join(u.text for u in result.measurement.utterances if u.party == party) for party in ("agent", "caller")}
    left = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
    right = "The horizon seems extremely distant."
    assert word_error_rate([left], [text["agent"]], language="en") <= 0.15, text
    assert word_error_rate([right], [text["caller"]], language="en") <= 0.15, text


def test_dual_mono_is_transcribed_once(fixtures_dir, transcriber):
    result = score_call(fixtures_dir / "asr" / "jfk_dualmono.flac", config=CONFIG, transcriber=transcriber)
    m = result.measurement
    assert m.quality.dual_mono and m.language == "en"
    text = " ".join(u.text for u in m.utterances)
    reference = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    assert text.lower().count("fellow americans") == 1, text
    assert word_error_rate([reference], [text], language="en") <= 0.15, text
    assert {u.party for u in m.utterances} == {"call"}


def test_no_words_on_silence_or_tones(transcriber):
    sr = 16000
    t = np.arange(10 * sr) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)) * (0.3 + 0.2 * np.sin(2 * np.pi * 2 * t))
    signals = {
        "silence": np.zeros(t.size, np.float32),
        "hiss": (np.random.default_rng(3).standard_normal(t.size) * 1e-3).astype(np.float32),
        "ringback": (0.2 * np.sin(2 * np.pi * 425 * t) * (t % 4 < 1)).astype(np.float32),
        "hold music": (0.1 * chord).astype(np.float32),
    }
    everything = np.array([[0.0, 10.0]])   # as if the VAD had let it all through
    for name, audio in signals.items():
        for language in ("ru", "en"):
            found = transcriber.transcribe_channel(audio, sr, everything, party="agent", language=language)
            assert found == [], f"{name} ({language}) gave {[u.text for u in found]}"


def test_a_prompt_echoed_over_tones_is_dropped():
    """A style prompt makes Whisper read it back over a ringback tone and hold music, sure it is
    not silence (no-speech probability 0.4-0.5), but unsure of its words: the average
    log-probability floor drops those windows, and nothing else is needed for it."""
    sr, t = 16000, np.arange(10 * 16000) / 16000
    chord = sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)) * (0.3 + 0.2 * np.sin(2 * np.pi * 2 * t))
    tones = {"ringback": 0.2 * np.sin(2 * np.pi * 425 * t) * (t % 4 < 1), "hold music": 0.1 * chord}
    prompt = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
    guarded = dataclasses.replace(CONFIG.measure.asr, prompt_en=prompt)
    unguarded = dataclasses.replace(guarded, avg_logprob_min=float("-inf"))
    heard = {}
    for label, options in (("guarded", guarded), ("unguarded", unguarded)):
        reader = Transcriber(options)
        heard[label] = {name: reader.transcribe_channel(audio.astype(np.float32), sr, np.array([[0.0, 10.0]]),
                                                        party="agent", language="en")
                        for name, audio in tones.items()}
    assert all(found == [] for found in heard["guarded"].values()), heard["guarded"]
    assert any(found != [] for found in heard["unguarded"].values()), "the prompt no longer makes Whisper invent: the test proves nothing"


def test_a_dropped_window_is_not_aligned_and_the_rest_read_the_same(fixtures_dir, transcriber):
    """Words are timed only in the windows kept: a window of hold music comes back without
    words, and a window of speech beside it in the batch reads exactly as when all are aligned."""
    from speechqa import packing, whisper

    speech = read_audio(fixtures_dir / "asr" / "jfk_dualmono.flac")
    audio = soxr.resample(np.asarray(speech.samples[0]), speech.sample_rate_hz, 16000).astype(np.float32)
    t = np.arange(10 * 16000) / 16000
    music = (0.1 * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)) * (0.3 + 0.2 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    windows = [(0.0, audio.size / 16000), (audio.size / 16000, audio.size / 16000 + 10.0)]
    encoded = whisper.encode([audio, music], model=transcriber.model)
    options = CONFIG.measure.asr
    every = whisper.decode(encoded, windows, model=transcriber.model, language="en", beam_size=options.beam_size)
    kept = whisper.decode(encoded, windows, model=transcriber.model, language="en", beam_size=options.beam_size,
                          dropped=lambda window: packing.invented(window, options))
    assert [packing.invented(w, options) for w in every] == [False, True], every
    assert kept[0] == every[0] and len(kept[0].words) > 10
    assert kept[1].words == () and dataclasses.replace(every[1], words=()) == kept[1]


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(SpeechQAError) as info:
        load_asr_model(str(tmp_path / "no-model"))
    assert info.value.error_type == "model_missing" and "make models" in str(info.value)


def test_language_is_detected(fixtures_dir, transcriber):
    for path, expected in ((fixtures_dir / "asr" / "asterisk_ru" / "vm-login.wav", "ru"),
                           (fixtures_dir / "asr" / "osr_harvard72_8k.wav", "en")):
        result = score_call(path, config=CONFIG, transcriber=transcriber)
        assert (result.measurement.language, result.measurement.language_method) == (expected, "detected")


def test_roles_from_words_follow_the_channels(fixtures_dir, transcriber, tmp_path, write_wav):
    rec = read_audio(fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav")
    both = np.asarray(rec.samples)
    for samples, agent in ((both, "left"), (both[::-1], "right")):
        path = write_wav(tmp_path / f"{agent}.wav", samples, rec.sample_rate_hz)
        m = measure_call(read_audio(path), measure=CONFIG.measure, transcriber=transcriber)
        # The caller gives her name too ("my name is Suzanne"); the agent's offer of help decides.
        assert (m.roles.agent_channel, m.roles.method) == (agent, "transcript"), m.roles


def test_self_introduction_on_a_real_opening(fixtures_dir, transcriber, tmp_path, write_wav):
    """The first 24 s of the real support call: the agent answers "…, Carrie speaking, how can I
    help you?" (Whisper base writes the name "Cherry", as the caller echoes it: "hi, Cherry"),
    and the caller introduces herself ("My name is Suzanne")."""
    from speechqa.lexicon import find, load_lexicon, tokenise

    rec = read_audio(fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav")
    path = write_wav(tmp_path / "opening.wav", rec.samples[:, : 24 * rec.sample_rate_hz], rec.sample_rate_hz)
    result = score_call(path, config=CONFIG, transcriber=transcriber)
    said = [u.text for u in result.measurement.utterances]
    note = result.assessment.derived.notes["agent_self_introduction"]
    assert result.metrics["agent_self_introduction"] == 1 and note.endswith(" speaking"), (note, said)
    caller = " ".join(u.text for u in result.measurement.utterances if u.party == "caller")
    tokens = tokenise(caller, language="en")
    spans = find(load_lexicon("en"), "self_introduction", tokens)
    assert [" ".join(t.surface for t in tokens[a:b]) for a, b in spans] == ["my name is suzanne"], said


# --- synthetic calls: espeak-ng voices at set rates, scripted words -------------------------------

RATE = 16000


def speak(text: str, *, voice: str, wpm: int) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text], capture_output=True, check=True).stdout
    import io

    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return (0.3 * soxr.resample(audio, sr, RATE) / max(1e-6, np.abs(audio).max())).astype(np.float32)


def make_call(path, script, *, voices, wpm):
    """script: [(party, text)] in order, 0.6 s apart; the agent on the left."""
    pieces, t = [], 0.5
    for party, text in script:
        audio = speak(text, voice=voices[party], wpm=wpm[party])
        pieces.append((party, int(t * RATE), audio))
        t += audio.size / RATE + 0.6
    channels = np.zeros((2, int((t + 0.5) * RATE)), np.float32)
    for party, start, audio in pieces:
        channels[0 if party == "agent" else 1, start:start + audio.size] += audio
    channels += np.random.default_rng(1).standard_normal(channels.shape).astype(np.float32) * 3e-4
    sf.write(path, channels.T, RATE, subtype="PCM_16")
    return path


GOOD_EN = [
    ("agent", "Thank you for calling Acme support, my name is John. How can I help you today?"),
    ("caller", "Hello. My internet has not been working since yesterday evening, and I already restarted the router twice."),
    ("agent", "I am sorry to hear that. Could you tell me your account number, please?"),
    ("caller", "Yes, of course. It is seven seven two one nine. I have been a customer for many years."),
    ("agent", "Thank you. I have reset the connection on our side, and the line is working again now."),
    ("caller", "Yes, it works now. That is great, thank you very much for your help."),
    ("agent", "Is there anything else I can help you with?"),
    ("caller", "No, that is all for today."),
    ("agent", "Thank you for calling Acme. Have a great day, goodbye!"),
]
BAD_EN = [
    ("agent", "Yeah, what is it?"),
    ("caller", "Hello. My internet has not been working since yesterday evening, and I already restarted the router twice."),
    ("agent", "Well, I don't know. That's not my problem, dude, I'm gonna check it anyway."),
    ("caller", "Yes, it works now. That is great, thank you very much for your help."),
    ("agent", "Okay, bye."),
]
VOICES = {"agent": "en-us", "caller": "en-gb"}


@pytest.fixture(scope="module")
def good_and_bad(tmp_path_factory, transcriber):
    folder = tmp_path_factory.mktemp("calls")
    wpm = {"agent": 190, "caller": 130}
    config = config_with(agent="auto", asr=dataclasses.replace(CONFIG.measure.asr, language="en"))
    good = score_call(make_call(folder / "good.wav", GOOD_EN, voices=VOICES, wpm=wpm), config=config, transcriber=transcriber)
    bad = score_call(make_call(folder / "bad.wav", BAD_EN, voices=VOICES, wpm=wpm), config=config, transcriber=transcriber)
    return good, bad


def verdicts(result):
    return {v.id: v.verdict for v in result.verdicts}


def test_script_rules_fire_where_they_should(good_and_bad):
    good, bad = good_and_bad
    g, b = verdicts(good), verdicts(bad)
    for rule in ("greeting", "self_introduction", "clarifying_questions", "anything_else", "thanks", "farewell",
                 "no_slang", "no_prohibited"):
        assert g[rule] == "pass", (rule, good.assessment.derived.notes.get(rule), [u.text for u in good.measurement.utterances])
    for rule in ("greeting", "self_introduction", "no_slang", "no_prohibited"):   # too few words for the rest
        assert b[rule] == "fail", (rule, [u.text for u in bad.measurement.utterances])
    assert good.measurement.roles.method == "transcript" and good.measurement.roles.agent_channel == "left"


def test_rate_ratio_follows_the_set_rates(good_and_bad):
    good, _ = good_and_bad
    m = good.metrics
    # espeak-ng at 190 and 130 words per minute; the measured articulation rates keep that ratio.
    assert m["rate_ratio"] == pytest.approx(190 / 130, rel=0.15), m


def test_pii_is_masked_in_what_is_printed(tmp_path, transcriber):
    script = [("agent", "How can I help you?"),
              ("caller", "My card number is four one one one, one one one one, one one one one, one one one one.")]
    path = make_call(tmp_path / "card.wav", script, voices=VOICES, wpm={"agent": 160, "caller": 150})
    result = score_call(path, config=config_with(agent="left"), transcriber=transcriber)
    text = " ".join(u.text for u in result.measurement.utterances)
    assert "[CARD]" in text or "[NUMBER]" in text, text
    assert "1111" not in text.replace(" ", "") and "one one one one" not in text.lower(), text
