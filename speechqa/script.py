"""Script compliance from the transcript and the timeline: what the agent said, and when.

Each metric is an integer with the moments that decided it (see criteria.md, "Words"); scoring
turns them into verdicts (a recording notice or an insult can be a fatal criterion).
Phrases come from a `speechqa.lexicon.Lexicon`; times from utterances (and their words, where
the recogniser gave word times), turns and events of `speechqa.timeline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from speechqa.options import ScriptOptions
from speechqa.lexicon import Lexicon, Token, find, has_case, tokenise
from speechqa.names import BACKCHANNEL, INTERRUPTION, PARTIES
from speechqa.timeline import Event, Turn
from speechqa.transcript import Utterance

METRICS = (
    "agent_greeting",
    "agent_self_introduction",
    "agent_recording_notice",
    "agent_anything_else",
    "agent_thanks",
    "agent_farewell",
    "agent_clarifying_questions",
    "agent_slang",
    "agent_profanity",
    "agent_prohibited",
    "caller_profanity",
    "agent_silences_after_question",
    "agent_interruptions_in_question",
    "agent_backchannels_in_caller_turns",
)

_TRAILING = " \t\n\"'»”)…"
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_NOTE_CHARS = 80


@dataclass(frozen=True)
class ScriptResult:
    metrics: dict[str, int | float | None]
    evidence: dict[str, list[tuple[float, float]]]   # metric -> (start_s, end_s) of the utterances that decided it
    notes: dict[str, str]                            # metric -> the matched text (short) or why none


@dataclass(frozen=True)
class _Said:
    """An utterance with its words normalised, each word with a time."""

    utterance: Utterance
    tokens: tuple[Token, ...]
    times: tuple[tuple[float, float], ...]   # per token: its word's times, else the utterance's
    stops: tuple[str, ...]                   # per token: "?" when it ends a question, "." another sentence, else ""

    @property
    def span(self) -> tuple[float, float]:
        return (self.utterance.start_s, self.utterance.end_s)

    def text(self, start: int = 0, end: int | None = None) -> str:
        return " ".join(t.surface for t in self.tokens[start:end])


def script_metrics(
    utterances: list[Utterance],
    turns: list[Turn],
    events: list[Event],
    *,
    lexicon: Lexicon,
    options: ScriptOptions,
) -> ScriptResult:
    """Every script metric of one call. Agent metrics are None when the agent said nothing."""
    said = {
        party: [_said(u, lexicon) for u in sorted(utterances, key=lambda u: u.start_s) if u.party == party]
        for party in PARTIES
    }
    out = ScriptResult(metrics={}, evidence={}, notes={})
    if said["caller"]:
        _count_phrases(out, "caller_profanity", said["caller"], lexicon, "profanity")
    else:
        _set(out, "caller_profanity", None, [], "the caller said nothing")
    agent = said["agent"]
    if not agent:
        for name in METRICS:
            if name != "caller_profanity":
                _set(out, name, None, [], "the agent said nothing")
        return out

    first_s, last_s = agent[0].utterance.start_s, max(s.utterance.end_s for s in agent)
    opening = (first_s, first_s + options.greeting_within_s)
    notice = (first_s, first_s + options.recording_notice_within_s)
    closing = (last_s - options.closing_within_s, last_s)
    # A phrase is in an opening window when it starts there, in the closing one when it ends there.
    _presence(out, "agent_greeting", agent, lexicon, ("greeting",), window=opening, by=0)
    _presence(out, "agent_self_introduction", agent, lexicon, ("self_introduction", "company"), window=opening, by=0,
              said_only=True)
    _presence(out, "agent_recording_notice", agent, lexicon, ("recording_notice",), window=notice, by=0)
    _presence(out, "agent_anything_else", agent, lexicon, ("anything_else",), window=None, by=0)
    _presence(out, "agent_thanks", agent, lexicon, ("thanks",), window=closing, by=1)
    _presence(out, "agent_farewell", agent, lexicon, ("farewell",), window=closing, by=1)
    _clarifying(out, agent, lexicon)
    for category in ("slang", "profanity", "prohibited"):
        _count_phrases(out, f"agent_{category}", agent, lexicon, category)
    questions = [s for s in said["caller"] if _is_question(s.utterance)]
    _silences_after_questions(out, questions, said, options)
    _interruptions_in_questions(out, questions, events)
    _backchannels(out, turns, events)
    return out


def _said(utterance: Utterance, lexicon: Lexicon) -> _Said:
    """Tokens by word (with the word's times) where the recogniser gave words, else by sentence;
    a capital counts only when the whole utterance has both cases (speechqa.lexicon)."""
    cased = has_case(utterance.text)
    pieces = ([(w.text, (w.start_s, w.end_s)) for w in utterance.words] if utterance.words else
              [(m.group(0), (utterance.start_s, utterance.end_s)) for m in _SENTENCE.finditer(utterance.text)])
    tokens, times, stops = [], [], []
    for text, span in pieces:
        found = tokenise(text, language=lexicon.language, cased=cased)
        if found:
            tokens += found
            times += [span] * len(found)
            end = text.rstrip(_TRAILING)[-1:]
            stops += [""] * (len(found) - 1) + ["?" if end == "?" else "." if end in (".", "!") else ""]
    return _Said(utterance, tuple(tokens), tuple(times), tuple(stops))


def _asked(said: _Said, end: int, *, within: int = 2) -> bool:
    """Whether the phrase ending before token `end` is asked: its sentence ends in "?" within
    `within` words after it ("Это Анна Петровна?" checks whom the agent reached; "My name is
    John, how can I help you?" is said, then asked)."""
    for stop in said.stops[end - 1: end + within]:
        if stop:
            return stop == "?"
    return False


def _presence(out, name, said, lexicon, categories, *, window, by, said_only=False):
    """1 when a phrase of the categories is said inside the window (None: anywhere), else 0.
    `by`: 0 when the phrase's start must lie in the window, 1 when its end must. A phrase's
    times are its words' where the recogniser gave word times, else its utterance's.
    `said_only`: a phrase that a question ends does not count ("Это Анна?" asks the caller)."""
    for s in said:
        for category in categories:
            for start, end in find(lexicon, category, s.tokens):
                if said_only and _asked(s, end):
                    continue
                moment = (s.times[start][0], s.times[end - 1][1])[by]
                if window is None or window[0] <= moment <= window[1]:
                    return _set(out, name, 1, [s.span], _short(s.text(start, end)))
    if window is None:
        return _set(out, name, 0, [], f"no {' or '.join(categories)} phrase from the agent")
    looked = [s.span for s in said if s.span[1] >= window[0] and s.span[0] <= window[1]]
    why = f"no {' or '.join(categories)} phrase from the agent in {window[0]:.1f}-{window[1]:.1f} s"
    return _set(out, name, 0, looked, why)


def _count_phrases(out, name, said, lexicon, category):
    evidence, texts = [], []
    for s in said:
        for start, end in find(lexicon, category, s.tokens):
            evidence.append(s.span)
            texts.append(s.text(start, end))
    return _set(out, name, len(evidence), evidence, _listing(texts, f"no {category}"))


def _clarifying(out, agent, lexicon):
    evidence, texts = [], []
    for s in agent:
        opens = any(start == 0 for start, _ in find(lexicon, "question_words", s.tokens))
        if _is_question(s.utterance) or opens or find(lexicon, "clarifying", s.tokens):
            evidence.append(s.span)
            texts.append(s.utterance.text.strip())
    _set(out, "agent_clarifying_questions", len(evidence), evidence, _listing(texts, "no agent questions"))


def _silences_after_questions(out, questions, said, options):
    """Caller questions followed by more than question_silence_s before anyone speaks again.
    A question after which nobody speaks (the call ends) is not counted: no silence to measure."""
    everyone = said["agent"] + said["caller"]
    evidence, texts = [], []
    for q in questions:
        q_end = q.utterance.end_s
        following = [s.utterance.start_s for s in everyone if s is not q and s.utterance.end_s > q_end]
        if following and min(following) - q_end > options.question_silence_s:
            gap_s = max(min(following) - q_end, 0.0)
            evidence.append(q.span)
            texts.append(f"{gap_s:.1f} s after {_short(q.utterance.text.strip())}")
    note = _listing(texts, "no long silence after a caller question")
    _set(out, "agent_silences_after_question", len(evidence), evidence, note)


def _interruptions_in_questions(out, questions, events):
    """Agent interruptions whose onset lies inside a caller question. With word times, the
    question is its last sentence; without, the whole utterance."""
    evidence, texts = [], []
    for e in events:
        if e.kind != INTERRUPTION or e.party != "agent":
            continue
        for q in questions:
            start_s, end_s = _question_span(q.utterance)
            if start_s <= e.start_s < end_s:
                evidence.append(q.span)
                texts.append(f"at {e.start_s:.1f} s in {_short(q.utterance.text.strip())}")
                break
    note = _listing(texts, "no interruption inside a caller question")
    _set(out, "agent_interruptions_in_question", len(evidence), evidence, note)


def _backchannels(out, turns, events):
    caller_turns = [t for t in turns if t.party == "caller"]
    found = [
        (e.start_s, e.end_s)
        for e in events
        if e.kind == BACKCHANNEL and e.party == "agent"
        and any(t.start_s <= e.start_s < t.end_s for t in caller_turns)
    ]
    note = f"{len(found) or 'no'} agent backchannels during caller turns"
    _set(out, "agent_backchannels_in_caller_turns", len(found), found, note)


def _is_question(utterance: Utterance) -> bool:
    return utterance.text.rstrip(_TRAILING).endswith("?")


def _question_span(utterance: Utterance) -> tuple[float, float]:
    """From the first word after the last sentence end before the final '?' to the end."""
    start_s = utterance.start_s
    for previous, word in zip(utterance.words, utterance.words[1:]):
        if previous.text.rstrip(_TRAILING).endswith((".", "!", "?")):
            start_s = word.start_s
    return (start_s, utterance.end_s)


def _set(out: ScriptResult, name, value, evidence, note):
    out.metrics[name] = value
    out.evidence[name] = list(evidence)
    out.notes[name] = note


def _short(text: str) -> str:
    return text if len(text) <= _NOTE_CHARS else text[: _NOTE_CHARS - 1] + "…"


def _listing(texts: list[str], none: str) -> str:
    if not texts:
        return none
    shown = "; ".join(f"«{_short(t)}»" for t in texts[:3])
    return shown + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")
