"""Voice and tone (issue 14): the cost of arousal and emphasis, and emphasis against word classes.

    python -m benchmarks.bench_voice [--call PATH] [--repeat 5] [--validate]

Cost: on a real call (lca49 by default), without speech recognition, times what arousal and
emphasis add to a call: the per-word acoustics (speechqa.features.emphasis.word_acoustics, at
measure time) and the two producers at scoring time (speechqa.voice), as a share of the call's
duration. Without ASR there are no word times, so the words are made up: each party's speech is
cut into 0.3 s words (3.3 words per second of speech, more than the 2.5-3 of conversational
speech), which costs what real words would. Run it through `python -m benchmarks` (one core, one
thread) or with `taskset -c 0`.

--validate: there is no prominence-labelled telephone speech to be had offline, so the check is
one any listener's ear agrees with on average: prominence falls on content words (nouns, verbs,
adjectives, adverbs, numbers, names) far more often than on function words (articles,
prepositions, pronouns, auxiliaries, conjunctions). On real recordings transcribed by the shipped
Whisper (word times from it, as in a call), it prints per set the words assessed, the prominent
share of content words and of function words, and the content share among prominent words
against the content share of all assessed words. Sets: lca49 (both parties), the 50 FDA
sentences (one male reader, English), the 40 asterisk_ru prompts (one professional voice).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
DEFAULT_CALL = FIXTURES / "calls" / "lca49_agent-left_caller-right_8k.wav"
WORD_S = 0.3

FUNCTION_WORDS = {
    "en": set("""a an the and or but if so of to in on at by for with from into onto about as than that this these
        those there here it its it's i i'm i've i'll me my we our us you your you're he him his she her they them their
        is am are was were be been being do does did have has had will would can could shall should may might must
        not no just oh uh um yeah okay ok well what which who whom when where how all some any up out off over then
        too very also gonna wanna let's that's""".split()),
    "ru": set("""а и но или да нет не ни в во на с со к ко у о об от до по за из из-за под над при для без через про
        я ты он она оно мы вы они меня тебя его её ее нас вас их мне тебе ему ей нам вам им мой твой наш ваш свой
        это этот эта эти тот та те то что как так же ли бы вот уже ещё еще только был была было были быть есть
        будет если чтобы когда где кто который которая которые""".split()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", type=Path, default=DEFAULT_CALL, help="the call to time")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the fastest is reported")
    parser.add_argument("--validate", action="store_true", help="also check emphasis against word classes (runs ASR)")
    args = parser.parse_args(argv)
    if not args.call.is_file():
        print(f"skipped: {args.call} not found (the ../shared fixtures are absent)")
        return 0
    cost(args.call, repeat=args.repeat)
    if args.validate:
        validate()
    return 0


def cost(path: Path, *, repeat: int) -> None:
    import dataclasses

    from speechqa.audio import read_audio
    from speechqa.config import default_config
    from speechqa.features.emphasis import word_acoustics
    from speechqa.measure import measure_call
    from speechqa.names import CHANNELS, PARTIES
    from speechqa.transcript import Utterance, Word
    from speechqa.voice import arousal_metrics, emphasis_metrics

    config = default_config()
    measure = dataclasses.replace(config.measure, asr=dataclasses.replace(config.measure.asr, enabled=False))
    recording = read_audio(path, max_duration_s=measure.max_duration_s)
    m = measure_call(recording, measure=measure)
    channel_of = {p: (0 if (m.roles.agent_channel == CHANNELS[0]) == (p == "agent") else 1) for p in PARTIES}
    grid = {p: np.array([(a, min(a + WORD_S, b)) for s, e in m.speech[p] for a, b in [(s, e)]
                         for a in np.arange(s, e - 0.05, WORD_S)]) for p in PARTIES}
    n_words = sum(len(g) for g in grid.values())
    best = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = {p: word_acoustics(recording.samples[channel_of[p]], recording.sample_rate_hz, m.pitch[p],
                                   grid[p][:, 0], grid[p][:, 1]) for p in PARTIES}
        t1 = time.perf_counter()
        utterances = []
        for p in PARTIES:   # one utterance per speech interval, its 0.3 s words with their acoustics
            words = [Word("word", float(a), float(b), 1.0, float(f), float(lv))
                     for (a, b), f, lv in zip(grid[p], found[p].f0_peak_hz, found[p].level_dbfs)]
            for s, e in m.speech[p]:
                inside = tuple(w for w in words if s <= w.start_s < e)
                if inside:
                    utterances.append(Utterance(p, float(s), float(e), "", 0.0, "en", inside))
        utterances.sort(key=lambda u: u.start_s)
        t2 = time.perf_counter()
        arousal_metrics(m.turns, m.speech, options=config.score.arousal)
        t3 = time.perf_counter()
        emphasis_metrics(tuple(utterances), m.plain_turns, m.speech, language="en", options=config.score.emphasis)
        t4 = time.perf_counter()
        times = {"word acoustics (measure)": t1 - t0, "arousal (score)": t3 - t2, "emphasis (score)": t4 - t3}
        times["total"] = sum(times.values())
        if not best or times["total"] < best["total"]:
            best = times
    print(f"voice and tone cost: {path.name}, {recording.duration_s:.1f} s, {len(m.turns)} turns, "
          f"{n_words} words of {WORD_S} s, best of {repeat}")
    for name, seconds in best.items():
        print(f"  {name:<26} {seconds * 1000:8.1f} ms  {100 * seconds / recording.duration_s:6.3f} % of the call")


def validate() -> None:
    from speechqa.asr import Transcriber
    from speechqa.audio import read_audio
    from speechqa.call import score_call
    from speechqa.config import default_config
    from speechqa.features.emphasis import word_acoustics
    from speechqa.features.pitch import track_pitch
    from speechqa.features.vad import detect_speech_with_floor, load_vad_model
    from speechqa.voice import prominent_words

    config = default_config()
    sets = {}
    if DEFAULT_CALL.is_file():
        m = score_call(DEFAULT_CALL, config=config).measurement
        sets["lca49 call (en)"] = ("en", [prominent_words(m.utterances, m.speech, party=p, language="en",
                                                          options=config.score.emphasis) for p in ("agent", "caller")])
    transcriber = Transcriber(config.measure.asr)
    for name, language, paths in (("FDA sentences (en)", "en", sorted((FIXTURES / "pitch" / "fda_rl").glob("*.wav"))),
                                  ("asterisk_ru prompts (ru)", "ru", sorted((FIXTURES / "asr" / "asterisk_ru").glob("*.wav")))):
        found = []
        for path in paths:
            rec = read_audio(path, max_duration_s=600)
            x, sr = rec.samples[0], rec.sample_rate_hz
            speech = detect_speech_with_floor(rec.samples, sr, model=load_vad_model(), options=config.measure.vad)[0].intervals_s
            said = transcriber.transcribe_channel(x, sr, speech, party="agent", language=language)
            pitch = track_pitch(x, sr)
            with_acoustics = []
            for u in said:
                a = word_acoustics(x, sr, pitch, [w.start_s for w in u.words], [w.end_s for w in u.words])
                words = tuple(w.__class__(w.text, w.start_s, w.end_s, w.probability,
                                          None if np.isnan(f) else float(f), None if np.isnan(lv) else float(lv))
                              for w, f, lv in zip(u.words, a.f0_peak_hz, a.level_dbfs))
                with_acoustics.append(u.__class__(u.party, u.start_s, u.end_s, u.text, u.avg_logprob, u.language, words))
            found.append(prominent_words(tuple(with_acoustics), {"agent": speech}, party="agent", language=language,
                                         options=config.score.emphasis))
        sets[name] = (language, found)
    print("emphasis against word classes (prominent share of content / function words; content share of "
          "prominent vs of all assessed words)")
    for name, (language, found) in sets.items():
        rows = [(text, prominent) for part in found for text, prominent in part]
        content = np.array([_clean(t) not in FUNCTION_WORDS[language] for t, _ in rows])
        prom = np.array([p for _, p in rows])
        print(f"  {name:<26} {len(rows):4d} words, {prom.sum():3d} prominent ({prom.mean():.1%}); "
              f"content {prom[content].mean():.1%} vs function {prom[~content].mean():.1%} prominent; "
              f"content share {content[prom].mean():.1%} of prominent vs {content.mean():.1%} of all")


def _clean(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch in "'-").strip("'-")


if __name__ == "__main__":
    raise SystemExit(main())
