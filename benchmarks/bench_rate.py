"""Speaking rates against truth on real speech: `python -m benchmarks.bench_rate`.

Each party's words per minute and syllables per second (over its speaking time: its speech and
its own silent pauses in its turns) and articulation rate (over its speech, pauses >= 0.25 s
left out), against truth, and the inputs each rests on beside the truth's, so that an error can
be put down to the words (ASR against the reference text), the syllables (speechqa's counter
against a hand count), the time base (speaking and articulation time against the truth's; the
summed turn time, the old base of the speaking rate, beside them) or PII masking.

- ARCTIC a0009, one read sentence: truth from its phone labels (syllables = vowel phones,
  speech = the phones, pauses >= 0.25 s left out); speechqa's counter on its text over speechqa's
  VAD speech of the sentence through a phone line.
- pyannote's phone call (real, two voices, mono): truth from its STM transcript (words) with
  syllables counted by hand (speechqa.testing.PYANNOTE_SYLLABLES) over each voice's utterances
  (no pause of 0.25 s or more inside one, so speaking and articulation time are the same). Rows:
  the reference words over speechqa's VAD speech through a phone line, split between the voices
  by the STM (a perfect diarizer); speechqa's transcription over the same speech; the RTTM's
  speaker turns as the speech (no VAD, no diarization; but they are padded, 12-14 % more time
  than the STM's utterances); and the whole pipeline, diarization included.
- samples/call_en_stereo.wav, espeak-ng: truth from the script and the truth file. espeak-ng's
  -s is no realised rate: the truth is each utterance's text (syllables counted by hand) over its
  generated time in the truth file, less the pauses >= 0.25 s inside it, found in the sample's
  own audio (10 ms frames 40 dB under the utterance's loudest, as make_samples.py trims). The
  caller's card number is masked, so the rates leave it out; its time, 18.37-23.00 s, is where
  espeak-ng 1.51 puts it (the number spoken alone at the caller's voice lasts 4.63 s and ends the
  utterance). The ratio is given against the script as measured (number left out) and whole.

Needs the Whisper model (models/whisper-base) and ../shared/fixtures; about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
SAMPLE = ROOT / "samples" / "call_en_stereo.wav"
PARTIES = ("agent", "caller")
PYANNOTE_PARTIES = {"Diane": "agent", "Sheila": "caller"}   # Diane opens the call
A0009_TEXT = "He turned sharply, and faced Gregson across the table."
# Hand counts, in the order of the sample's utterances (truth file).
SAMPLE_SYLLABLES = (20, 12, 17, 34, 11, 15, 21, 2, 6, 11, 3, 11)
NUMBER_S = (18.37, 23.00)          # the caller's card number, masked: "forty-one eleven, eleven eleven, ..."
NUMBER_WORDS, NUMBER_SYLLABLES = 8, 24
PAUSE_MIN_S = 0.25
TURN_END_SILENCE_S = 3.0


@dataclasses.dataclass(frozen=True)
class Row:
    """One party's rates and what they rest on; turn_s None where turns do not apply (truth)."""

    words: int
    syllables: int
    speaking_s: float
    articulation_s: float
    turn_s: float | None = None

    @property
    def wpm(self) -> float:
        return self.words / self.speaking_s * 60

    @property
    def syll_per_s(self) -> float:
        return self.syllables / self.speaking_s

    @property
    def articulation(self) -> float:
        return self.syllables / self.articulation_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    from speechqa.asr import Transcriber
    from speechqa.config import default_config

    config = default_config()
    transcriber = Transcriber(config.measure.asr)
    _arctic(config)
    _pyannote(config, transcriber)
    _sample(config, transcriber)
    return 0


def _arctic(config) -> None:
    from speechqa.rate import count_syllables
    from speechqa.testing import ARPABET_VOWELS, PHONE_RATE_HZ, phone_channel, read_hts_labels, speech_split_by_reference
    from speechqa.timeline import bridge_gaps, total_s, union

    lab, wav = FIXTURES / "timing" / "arctic_a0009_phone.lab", FIXTURES / "timing" / "arctic_a0009.wav"
    if not lab.is_file():
        print(f"skipped: {lab} not found")
        return
    spoken = [r for r in read_hts_labels(lab) if r[2] not in ("sil", "pau")]
    speech = bridge_gaps(union(np.array([(r[0], r[1]) for r in spoken])), max_gap_s=PAUSE_MIN_S)
    truth = Row(9, sum(r[2] in ARPABET_VOWELS for r in spoken), total_s(speech), total_s(speech))
    x, sr = sf.read(wav, dtype="float32")
    # One speaker: all of the VAD's speech, bridged as measure bridges it.
    found = speech_split_by_reference(phone_channel(x, sr), PHONE_RATE_HZ, {"speaker": speech}, measure=config.measure)
    vad_s = total_s(found["speaker"])
    ours = Row(len(A0009_TEXT.split()), sum(count_syllables(w, language="en") for w in A0009_TEXT.split()), vad_s, vad_s)
    print("== ARCTIC a0009 (one read sentence), through a phone line")
    _table({"truth: phone labels": {"speaker": truth}, "speechqa: counter, VAD": {"speaker": ours}}, truth={"speaker": truth})


def _pyannote(config, transcriber) -> None:
    from speechqa.call import score_call
    from speechqa.diarize import split_by_speaker
    from speechqa.testing import (PHONE_RATE_HZ, PYANNOTE_SYLLABLES, phone_channel, read_rttm, read_stm,
                                  reference_words, speech_split_by_reference, word_error_rate)
    from speechqa.timeline import bridge_gaps, find_turns, total_s, union

    wav = FIXTURES / "calls" / "pyannote_phone_sample.wav"
    if not wav.is_file():
        print(f"skipped: {wav} not found")
        return
    transcript = read_stm(wav.with_suffix(".stm"))
    said = {party: np.array([(u.start_s, u.end_s) for u in transcript if u.speaker == name])
            for name, party in PYANNOTE_PARTIES.items()}
    truth = {}
    for name, party in PYANNOTE_PARTIES.items():
        own = [u for u in transcript if u.speaker == name]
        seconds = total_s(union(said[party]))
        truth[party] = Row(sum(len(u.text.split()) for u in own), sum(PYANNOTE_SYLLABLES[u.text] for u in own), seconds, seconds)
    x, sr = sf.read(wav, dtype="float32")
    line = phone_channel(x, sr)
    speech = speech_split_by_reference(line, PHONE_RATE_HZ, said, measure=config.measure)
    turns, _ = find_turns(speech, options=config.measure.turns)
    ref_words = {PYANNOTE_PARTIES[name]: w for name, w in reference_words(transcript).items()}

    everything = bridge_gaps(union(*speech.values()), max_gap_s=config.measure.bridge_gap_s)
    heard = transcriber.transcribe_channel(line, PHONE_RATE_HZ, everything, party="call", language="en")
    by_party = split_by_speaker(heard, (speech["agent"], speech["caller"]))
    asr_words = {party: [w for u in utterances for w in u.words] for party, utterances in zip(PARTIES, by_party)}

    rttm = {party: bridge_gaps(s, max_gap_s=config.measure.bridge_gap_s) for party, s in zip(PARTIES, read_rttm(wav.with_suffix(".rttm")))}
    rttm_turns, _ = find_turns(rttm, options=config.measure.turns)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pyannote_phone.wav"
        sf.write(path, line, PHONE_RATE_HZ, subtype="PCM_16")
        m = score_call(path, config=config, transcriber=transcriber).measurement
    pipeline_words = {p: [w for u in m.utterances if u.party == p for w in u.words] for p in PARTIES}

    print("== pyannote phone call (real, mono), through a phone line; agent = Diane, caller = Sheila")
    _table({
        "truth: STM words, hand syllables": truth,
        "reference words, VAD split by the STM": _measured(ref_words, turns, speech),
        "ASR words, VAD split by the STM": _measured(asr_words, turns, speech),
        "reference words, RTTM turns as speech": _measured(ref_words, rttm_turns, rttm),
        "whole pipeline (diarized)": _measured(pipeline_words, m.plain_turns, m.speech),
    }, truth=truth)
    for name, party in PYANNOTE_PARTIES.items():
        reference = " ".join(u.text for u in transcript if u.speaker == name)
        hypothesis = " ".join(w.text for w in asr_words[party])
        print(f"  {party} ASR: {len(asr_words[party])} words for {truth[party].words}, WER "
              f"{word_error_rate([reference], [hypothesis], language='en'):.1%}: {hypothesis}")


def _sample(config, transcriber) -> None:
    from speechqa.call import score_call
    from speechqa.rate import count_syllables
    from speechqa.timeline import intersection, subtract, total_s, union
    from speechqa.words import without_masked

    truth_file = json.loads(SAMPLE.with_suffix(".truth.json").read_text(encoding="utf-8"))
    audio, sr = sf.read(SAMPLE, dtype="float64", always_2d=True)
    channel = {party: ("left", "right").index(side) for party, side in truth_file["channel_map"].items()}
    backchannels = {round(b["start_s"], 2) for b in truth_file["events"]["backchannels"]}
    speech = {p: [] for p in PARTIES}
    words = dict.fromkeys(PARTIES, 0)
    syllables = dict.fromkeys(PARTIES, 0)
    counted = dict.fromkeys(PARTIES, 0)
    for u, syll in zip(truth_file["utterances"], SAMPLE_SYLLABLES, strict=True):
        if round(u["start_s"], 2) in backchannels:   # in no turn of the caller's: the rates leave it out
            continue
        party = u["party"]
        speech[party] += _pieces(audio[:, channel[party]], sr, u["start_s"], u["end_s"])
        words[party] += len(u["text"].split())
        syllables[party] += syll
        counted[party] += sum(count_syllables(w, language="en") for w in u["text"].split())
    speech = {p: union(np.array(v)) for p, v in speech.items()}
    number = np.array([NUMBER_S])
    as_measured = {p: subtract(speech[p], number) if p == "caller" else speech[p] for p in PARTIES}
    whole = {p: Row(words[p], syllables[p], total_s(_speaking(speech, p)), total_s(speech[p])) for p in PARTIES}
    truth = {p: Row(words[p] - (NUMBER_WORDS if p == "caller" else 0), syllables[p] - (NUMBER_SYLLABLES if p == "caller" else 0),
                    total_s(subtract(_speaking(speech, p), number)), total_s(as_measured[p])) for p in PARTIES}

    rows = {"truth: script less the masked number": truth, "truth: whole script": whole}
    reported = []
    for label, pii in (("speechqa (PII masked: the default)", True), ("speechqa, PII masking off", False)):
        c = dataclasses.replace(config, measure=dataclasses.replace(config.measure, pii=dataclasses.replace(config.measure.pii, enabled=pii)))
        result = score_call(SAMPLE, config=c, transcriber=transcriber)
        m = result.measurement
        heard = {p: [w for u in m.utterances if u.party == p for w in u.words] for p in PARTIES}
        known_words, known_speech, known_turns = without_masked(heard, m.speech, m.plain_turns)
        rows[label] = _measured(known_words, known_turns, known_speech)
        reported.append(f"  {label}, as reported: rate_ratio {result.metrics['rate_ratio']:.3f}, agent "
                        f"{result.metrics['agent_rate_wpm']:.1f} wpm, caller {result.metrics['caller_rate_wpm']:.1f} wpm")
    print(f"== samples/call_en_stereo.wav (espeak-ng at -s 160 / 140: nominal ratio {160 / 140:.3f}); "
          f"speechqa's counter on the script: agent {counted['agent']}, caller {counted['caller']} syllables "
          f"(hand: {syllables['agent']}, {syllables['caller']})")
    _table(rows, truth=truth)
    print("\n".join(reported))
    print(f"  whole-script articulation ratio {whole['agent'].articulation / whole['caller'].articulation:.3f}; "
          f"the caller's number alone: {NUMBER_SYLLABLES} syllables in {total_s(intersection(speech['caller'], number)):.2f} s "
          f"({NUMBER_SYLLABLES / total_s(intersection(speech['caller'], number)):.2f} syll/s)")


def _pieces(signal: np.ndarray, sr: int, start_s: float, end_s: float) -> list[tuple[float, float]]:
    """An utterance's span cut at its pauses >= PAUSE_MIN_S: runs of 10 ms frames 40 dB under its
    loudest frame."""
    hop = sr // 100
    first = int(round(start_s * sr))
    frames = signal[first: int(round(end_s * sr))]
    frames = frames[: len(frames) // hop * hop].reshape(-1, hop)
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
    quiet = np.concatenate([[False], level < level.max() - 40.0, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(int)))
    pieces, cursor = [], start_s
    for a, b in zip(edges[::2], edges[1::2]):
        if (b - a) * 0.01 >= PAUSE_MIN_S:
            pieces.append((cursor, start_s + a * 0.01))
            cursor = start_s + b * 0.01
    return pieces + [(cursor, end_s)]


def _speaking(speech: dict, party: str) -> np.ndarray:
    """The truth's speaking time, by the definition: the party's speech and each silent gap
    between two of its stretches shorter than a turn-ending silence, in which the other party
    does not speak."""
    from speechqa.timeline import intersection, total_s, union

    own, other = speech[party], speech[PARTIES[1 - PARTIES.index(party)]]
    gaps = np.column_stack([own[:-1, 1], own[1:, 0]])
    silent = [g for g in gaps if g[1] - g[0] < TURN_END_SILENCE_S and total_s(intersection(other, g[None])) == 0]
    return union(own, np.array(silent).reshape(-1, 2))


def _measured(words: dict, turns, speech: dict) -> dict[str, Row]:
    from speechqa.rate import party_rate
    from speechqa.timeline import total_s, union

    rows = {}
    for party, other in zip(PARTIES, PARTIES[::-1]):
        own = [t for t in turns if t.party == party]
        rate = party_rate(words[party], own, speech[party], language="en", min_speech_s=0.0, other_speech=speech[other])
        turn_s = total_s(union(np.array([(t.start_s, t.end_s) for t in own]).reshape(-1, 2)))
        rows[party] = Row(rate.words, rate.syllables, rate.speaking_s, rate.articulation_s, turn_s)
    return rows


def _table(rows: dict[str, dict[str, Row]], *, truth: dict[str, Row]) -> None:
    parties = list(truth)
    print(f"  {'':<40} {'party':<7} {'words':>5} {'syll':>5} {'speak s':>8} {'turn s':>7} {'artic s':>8} "
          f"{'wpm':>13} {'syll/s':>13} {'artic syll/s':>13}")
    for label, by_party in rows.items():
        for party in parties:
            r, t = by_party[party], truth[party]
            turn = "" if r.turn_s is None else f"{r.turn_s:.2f}"
            print(f"  {label:<40} {party:<7} {r.words:>5} {r.syllables:>5} {r.speaking_s:>8.2f} {turn:>7} "
                  f"{r.articulation_s:>8.2f} {_vs(r.wpm, t.wpm, 1)} {_vs(r.syll_per_s, t.syll_per_s)} "
                  f"{_vs(r.articulation, t.articulation)}")
        if len(parties) == 2:
            ratio = by_party["agent"].articulation / by_party["caller"].articulation
            true_ratio = truth["agent"].articulation / truth["caller"].articulation
            print(f"  {label:<40} agent/caller articulation ratio {ratio:.3f} ({ratio / true_ratio - 1:+.1%})")


def _vs(value: float, truth: float, digits: int = 2) -> str:
    return f"{value:>6.{digits}f} {value / truth - 1:+5.0%}"


if __name__ == "__main__":
    raise SystemExit(main())
