"""Helpers to check measurements against references: a simulated telephone line and scores of
a speech timeline against hand marks or a laryngograph. Used by the tests and the benchmarks,
so that both measure the same way."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np

from speechqa.names import CALL

PHONE_RATE_HZ = 8000
FDA_HOP_S = 0.015   # FDA .f0ref files: one value per 15 ms, value k at k * 15 ms


def phone_channel(signal: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """A telephone line: resample to 8 kHz, 300-3400 Hz 4th-order Butterworth band-pass, 8-bit
    G.711-style mu-law encode and decode. Returns float32 at PHONE_RATE_HZ."""
    import soxr
    from scipy.signal import butter, sosfilt

    y = soxr.resample(np.asarray(signal, dtype=np.float64), sample_rate_hz, PHONE_RATE_HZ, quality="HQ")
    y = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=PHONE_RATE_HZ, output="sos"), y)
    mu = 255.0
    encoded = np.sign(y) * np.log1p(mu * np.minimum(np.abs(y), 1.0)) / np.log1p(mu)
    decoded = np.round((encoded + 1.0) / 2.0 * 255.0) / 255.0 * 2.0 - 1.0   # 256 codes
    return (np.sign(decoded) * np.expm1(np.abs(decoded) * np.log1p(mu)) / mu).astype(np.float32)


def boundary_f1(found: np.ndarray, reference: np.ndarray, *, tolerance_s: float = 0.05) -> float:
    """F1 of interval boundaries (starts and ends pooled), matched one-to-one within tolerance."""
    from scipy.optimize import linear_sum_assignment

    hyp, ref = np.sort(np.ravel(found)), np.sort(np.ravel(reference))
    if len(hyp) == 0 or len(ref) == 0:
        return 0.0
    distance = np.abs(hyp[:, None] - ref[None, :])
    rows, cols = linear_sum_assignment(np.where(distance <= tolerance_s, distance, 1e6))
    hits = int(np.sum(distance[rows, cols] <= tolerance_s))
    return 2 * hits / (len(hyp) + len(ref))


def laryngograph_scores(paths: list[Path], detect) -> dict:
    """VAD recall and false alarms on FDA recordings through a phone channel.

    `detect(signal, sample_rate_hz) -> (n, 2) intervals`. Recall: share of laryngograph-voiced
    frames called speech. False alarms: share of the leading and trailing silence called speech,
    where silence lies outside the first-to-last sound (voiced, or 20 dB above the clean
    recording's floor, since the laryngograph cannot see the /s/ of "wasps") with 0.1 s slack.
    """
    import soundfile as sf

    voiced_hits = voiced = silence_hits = silence = 0
    for path in paths:
        x, sr = sf.read(path, dtype="float32")
        f0 = np.loadtxt(path.with_suffix(".f0ref"))
        found = detect(phone_channel(x, sr), PHONE_RATE_HZ)
        t = np.arange(len(f0)) * FDA_HOP_S
        speech = np.zeros(len(t), dtype=bool)
        for start, end in found:
            speech |= (t >= start) & (t < end)
        half = int(FDA_HOP_S * sr)
        level = np.array(
            [10 * np.log10(np.mean(x[max(0, k * half - half): k * half + half] ** 2) + 1e-12) for k in range(len(f0))]
        )
        sound = np.flatnonzero((f0 > 0) | (level > np.percentile(level, 5) + 20))
        quiet = (t < t[sound[0]] - 0.1) | (t > t[sound[-1]] + 0.1)
        voiced_hits += speech[f0 > 0].sum()
        voiced += (f0 > 0).sum()
        silence_hits += speech[quiet].sum()
        silence += quiet.sum()
    return {
        "recall": voiced_hits / voiced,
        "false_alarm": silence_hits / max(silence, 1),
        "silence_s": silence * FDA_HOP_S,
    }


_RU_UNITS = "ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать".split()
_RU_TENS = "_ _ двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()
_RU_HUNDREDS = "_ сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split()
_EN_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell_number(n: int, *, language: str) -> str:
    """A cardinal number 0..999999 in words (Russian nominative, or English), for WER."""
    if not 0 <= n < 1_000_000:
        return str(n)
    if language == "ru":
        return " ".join(_ru_words(n)) or "ноль"
    return " ".join(_en_words(n)) or "zero"


def _ru_words(n: int, feminine: bool = False) -> list[str]:
    if n >= 1000:
        thousands, rest = divmod(n, 1000)
        last, last2 = thousands % 10, thousands % 100
        noun = "тысяча" if last == 1 and last2 != 11 else "тысячи" if 2 <= last <= 4 and not 12 <= last2 <= 14 else "тысяч"
        return _ru_words(thousands, feminine=True) + [noun] + _ru_words(rest)
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_RU_HUNDREDS[hundreds])
    if rest >= 20:
        tens, rest = divmod(rest, 10)
        words.append(_RU_TENS[tens])
    if rest or (n == 0):
        unit = _RU_UNITS[rest]
        if feminine and rest in (1, 2):
            unit = "одна" if rest == 1 else "две"
        words.append(unit)
    return words if n else []


def _en_words(n: int) -> list[str]:
    if n >= 1000:
        thousands, rest = divmod(n, 1000)
        return _en_words(thousands) + ["thousand"] + _en_words(rest)
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    if rest >= 20:
        tens, rest = divmod(rest, 10)
        words.append(_EN_TENS[tens])
    if rest:
        words.append(_EN_UNITS[rest])
    return words


def normalise_for_wer(text: str, *, language: str) -> list[str]:
    """Words for scoring: lower case, ё as е, numbers in words, punctuation and symbols gone."""
    import re
    import unicodedata

    text = text.lower().replace("ё", "е")
    text = re.sub(r"\d+", lambda m: f" {spell_number(int(m.group()), language=language)} ", text)
    kept = "".join(ch if unicodedata.category(ch)[0] in "LN" or ch == "'" else " " for ch in text)
    return kept.replace("ё", "е").split()


def word_error_rate(references: list[str], hypotheses: list[str], *, language: str) -> float:
    """Word errors (substitutions, deletions, insertions) over reference words, pooled."""
    errors = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref = normalise_for_wer(reference, language=language)
        hyp = normalise_for_wer(hypothesis, language=language)
        errors += _edit_distance(ref, hyp)
        words += len(ref)
    return errors / words if words else 0.0


def _edit_distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def asr_reference_sets(fixtures: Path) -> dict[str, tuple[str, list[tuple[Path, str]]]]:
    """The transcribed fixtures: name -> (language, [(audio path, reference text)])."""
    asr = fixtures / "asr"
    asterisk = []
    for line in (asr / "asterisk_ru" / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, text = line.split("\t", 1)
            asterisk.append((asr / "asterisk_ru" / name, text))
    harvard = [line for line in (asr / "osr_harvard72_8k.txt").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    return {
        "asterisk_ru": ("ru", asterisk),
        "osr_harvard72_8k": ("en", [(asr / "osr_harvard72_8k.wav", " ".join(harvard))]),
        "deepspeech_ru": ("ru", [(asr / "deepspeech_ru.wav", "бедняга ребят на его месте должен был быть я")]),
        "pisets_ru": ("ru", [(asr / "pisets_ru.wav", "нейронные сети это хорошо")]),
    }


def transcribe_file(path: Path, *, language: str, transcriber, vad_options) -> str:
    """speechqa's transcription of a whole file (all channels, mixed down), as one text."""
    from speechqa.audio import read_audio
    from speechqa.features.vad import detect_speech, load_vad_model
    from speechqa.timeline import bridge_gaps

    recording = read_audio(path)
    mono = np.asarray(recording.samples).mean(axis=0, keepdims=True)
    (raw,) = detect_speech(mono, recording.sample_rate_hz, model=load_vad_model(), options=vad_options)
    speech = bridge_gaps(raw, max_gap_s=0.25)
    utterances = transcriber.transcribe_channel(mono[0], recording.sample_rate_hz, speech, party=CALL, language=language)
    return " ".join(u.text for u in utterances)


@dataclasses.dataclass(frozen=True)
class DiarizationError:
    """NIST-style diarization error against a reference, as shares of the reference speech time
    (frames of 10 ms; the hypothesis speakers mapped onto the reference ones to fit best)."""

    der: float          # missed + false alarm + confusion
    missed: float
    false_alarm: float
    confusion: float


def diarization_error(reference: list[np.ndarray], hypothesis: list[np.ndarray], *, collar_s: float = 0.0,
                      frame_s: float = 0.01) -> DiarizationError:
    """Reference and hypothesis: one (n, 2) interval array per speaker. Frames within collar_s of
    a reference speaker's boundary are not scored (the usual 0.25 s collar forgives boundaries)."""
    end = max([float(np.max(s[:, 1])) for s in [*reference, *hypothesis] if len(s)] + [0.0])
    times = (np.arange(int(np.ceil(end / frame_s))) + 0.5) * frame_s

    def active(intervals):
        intervals = np.asarray(intervals, dtype=float).reshape(-1, 2)
        return np.any((times[:, None] >= intervals[:, 0]) & (times[:, None] < intervals[:, 1]), axis=1)

    ref = np.stack([active(s) for s in reference], axis=1)
    hyp = np.stack([active(s) for s in hypothesis], axis=1)
    scored = np.ones(len(times), dtype=bool)
    for s in reference:
        for edge in np.asarray(s, dtype=float).reshape(-1, 2).ravel():
            scored &= np.abs(times - edge) >= collar_s
    ref, hyp = ref[scored], hyp[scored]
    best = max(itertools.permutations(range(hyp.shape[1]), min(hyp.shape[1], ref.shape[1])),
               key=lambda perm: sum(np.sum(ref[:, r] & hyp[:, h]) for r, h in enumerate(perm)))
    mapped = np.zeros_like(ref)
    for r, h in enumerate(best):
        mapped[:, r] = hyp[:, h]
    n_ref, n_hyp = ref.sum(axis=1), hyp.sum(axis=1)
    correct = (ref & mapped).sum(axis=1)
    total = n_ref.sum()
    missed = np.maximum(n_ref - n_hyp, 0).sum() / total
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum() / total
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum() / total
    return DiarizationError(der=float(missed + false_alarm + confusion), missed=float(missed),
                            false_alarm=float(false_alarm), confusion=float(confusion))


def read_rttm(path: Path) -> list[np.ndarray]:
    """One (n, 2) interval array per speaker of an RTTM file, in order of first speech."""
    turns: dict[str, list[tuple[float, float]]] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, length = float(fields[3]), float(fields[4])
            turns.setdefault(fields[7], []).append((start, start + length))
    return [np.array(sorted(t)) for t in sorted(turns.values(), key=min)]


# --- Speaking-rate truth (tests/test_rate.py, benchmarks/bench_rate.py) ---------------------------

# Syllables of each utterance of calls/pyannote_phone_sample.stm, counted by hand ("Diane" 2,
# "Jersey" 2, "originally" 5, "isn't" 2, "difference" 3, "Yankee" 2).
PYANNOTE_SYLLABLES = {
    "Hello?": 2, "Oh, hello.": 3, "I didn't know you were there.": 7, "Neither did I.": 4,
    "Okay, then I thought you know, I heard a beep.": 11, "This is Diane in New Jersey.": 8,
    "And I'm Sheila in Texas, originally from Chicago.": 16, "Oh, I'm originally from Chicago also.": 13,
    "I'm in New Jersey now though.": 7, "Well, there isn't that much difference.": 9,
    "At least you know, they all call me a Yankee down here, so what can I say?": 18,
    "Oh, I don't hear that in New Jersey now.": 10,
}


ARPABET_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "er", "ey", "ih", "ix", "iy",
                            "ow", "oy", "uh", "uw", "ux"})   # one syllable each


def read_hts_labels(path: Path) -> list[tuple[float, float, str, tuple[str, str]]]:
    """[(start_s, end_s, phone, word_key)] of an HTS full-context label file (times in 100 ns);
    word_key = (phrase in utterance, word in phrase)."""
    import re

    rows = []
    for line in Path(path).read_text().splitlines():
        start, end, label = line.split()
        phone = re.match(r"[^^]*\^[^-]*-([^+]+)\+", label).group(1)
        word = re.search(r"/E:[^@]*@([^+]+)\+", label).group(1)
        phrase = re.search(r"/H:[^@]*@([^=]+)=", label).group(1)
        rows.append((int(start) * 1e-7, int(end) * 1e-7, phone, (phrase, word)))
    return rows


@dataclasses.dataclass(frozen=True)
class ReferenceUtterance:
    speaker: str
    start_s: float
    end_s: float
    text: str


def read_stm(path: Path) -> list[ReferenceUtterance]:
    """The utterances of an STM transcript (`file channel speaker start end text` lines)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith(";;"):
            _, _, speaker, start, end, text = line.split(None, 5)
            rows.append(ReferenceUtterance(speaker, float(start), float(end), text.strip()))
    return rows


def reference_words(utterances: list[ReferenceUtterance]) -> dict[str, list]:
    """Each speaker's reference words as speechqa Words, spread evenly over their utterance: times
    good enough to put each word into the right turn, which is all the rates ask of them."""
    from speechqa.transcript import Word

    words: dict[str, list] = {}
    for u in utterances:
        tokens = u.text.split()
        step = (u.end_s - u.start_s) / len(tokens)
        words.setdefault(u.speaker, []).extend(
            Word(token, u.start_s + i * step, u.start_s + (i + 1) * step, 1.0) for i, token in enumerate(tokens))
    return words


def speech_split_by_reference(signal: np.ndarray, sample_rate_hz: int, said: dict[str, np.ndarray], *, measure,
                              frame_s: float = 0.01) -> dict[str, np.ndarray]:
    """speechqa's VAD speech on one channel, split among the speakers as a perfect diarizer would
    (each frame_s frame to the speaker whose reference interval in `said` holds its middle, or
    lies nearest), each speaker's part bridged as measure bridges speech ([measure] options)."""
    from speechqa.features.vad import detect_speech_with_floor, load_vad_model
    from speechqa.timeline import bridge_gaps, union

    (found,) = detect_speech_with_floor(signal, sample_rate_hz, model=load_vad_model(), options=measure.vad)
    speech = bridge_gaps(found.intervals_s, max_gap_s=measure.bridge_gap_s)
    names = list(said)
    pieces = np.array([(t, min(t + frame_s, end)) for start, end in speech
                       for t in np.arange(start, end, frame_s)]).reshape(-1, 2)
    middles = pieces.mean(axis=1)[:, None]
    distance = np.stack([np.min(np.maximum(ref[:, 0] - middles, 0) + np.maximum(middles - ref[:, 1], 0), axis=1)
                         for ref in (np.asarray(said[n]).reshape(-1, 2) for n in names)], axis=1)
    nearest = np.argmin(distance, axis=1)
    return {name: bridge_gaps(union(pieces[nearest == k]), max_gap_s=measure.bridge_gap_s) for k, name in enumerate(names)}
