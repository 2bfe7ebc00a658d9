"""Which channel is the agent: from configuration, from what is said, or from who speaks first.

`auto` looks first at the words: the agent offers help, greets and names the company or
themselves in the opening seconds ("Здравствуйте, компания …, меня зовут …", "Thank you for calling …, my name
is …"). When the words do not decide (no transcript, or both or neither channel sound like an
agent), the call's direction decides where its metadata gives one: on an outbound call the agent
dialled and the called party answers first, so the second speaker is the agent. Else the party
who speaks first is the agent. The method and its evidence are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.names import CHANNELS
from speechqa.transcript import Utterance

OPENING_S = 15.0   # where an agent's opening is looked for, from the channel's first words
# Offering help is what an agent's opening has and a caller's has not; callers greet, and often
# give their names too ("Hi, my name is Suzanne, I was just at your shop").
CUE_WEIGHTS = {"offer_help": 4, "company": 2, "self_introduction": 2, "greeting": 1}
# Values of a call's `direction` metadata (file name or sidecar) that mean the agent dialled.
OUTBOUND = frozenset({"out", "outbound", "outgoing", "исходящий", "исходящая", "исх"})


@dataclass(frozen=True)
class Roles:
    agent_channel: str | None   # "left" or "right" (speechqa.names.CHANNELS); None when no channel is the agent's (mono)
    method: str                 # "config", "transcript", "direction", "first_speaker", "mono" or "diarized"
    evidence: str

    def __post_init__(self):
        if self.agent_channel is not None and self.agent_channel not in CHANNELS:
            raise ValueError(f"agent_channel = {self.agent_channel!r}; use one of {CHANNELS} or None")

    @property
    def caller_channel(self) -> str | None:
        return None if self.agent_channel is None else CHANNELS[1 - CHANNELS.index(self.agent_channel)]


def first_speaker(speech_by_channel: list[np.ndarray]) -> int:
    onsets = [float(s[0, 0]) if len(s) else np.inf for s in speech_by_channel]
    return int(np.argmin(onsets))


def assign_roles(
    speech_by_channel: list[np.ndarray],
    *,
    agent: str,
    utterances_by_channel: list[list[Utterance]] | None = None,
    lexicon=None,
    direction: str | None = None,
) -> Roles:
    """Roles of a two-channel call. `agent` is "left", "right" or "auto"; with "auto", the
    channels' utterances and a speechqa.lexicon.Lexicon let the words decide first, then the
    call's `direction` (its metadata, e.g. "outbound"), then who speaks first."""
    if agent in CHANNELS:
        return Roles(agent, "config", f"agent = {agent!r} in the configuration")
    if utterances_by_channel is not None and lexicon is not None:
        cues = [_opening_cues(u, lexicon) for u in utterances_by_channel]
        scores = [sum(CUE_WEIGHTS[c] for c, _ in found) for found in cues]
        # A greeting alone does not make an agent: a caller says "hello" to an agent who does not.
        if max(scores) > CUE_WEIGHTS["greeting"] and scores[0] != scores[1]:
            channel = CHANNELS[int(np.argmax(scores))]
            said = "; ".join(f"{category} '{text}'" for category, text in cues[CHANNELS.index(channel)])
            return Roles(channel, "transcript", f"{channel} opens like an agent: {said}")
    onsets = [float(s[0, 0]) if len(s) else np.inf for s in speech_by_channel]
    described = ", ".join(
        f"{name} {'never speaks' if np.isinf(t) else f'first speaks at {t:.2f} s'}"
        for name, t in zip(CHANNELS, onsets)
    )
    first = first_speaker(speech_by_channel)
    if is_outbound(direction):
        return Roles(CHANNELS[1 - first], "direction",
                     f"outbound call (direction {direction!r}): the called party answers first; {described}")
    return Roles(CHANNELS[first], "first_speaker", described)


def is_outbound(direction: str | None) -> bool:
    """Whether a call's direction metadata says the agent dialled."""
    return direction is not None and direction.strip().lower() in OUTBOUND


def _opening_cues(utterances: list[Utterance], lexicon) -> list[tuple[str, str]]:
    """(category, words) of the agent-like phrases in a channel's opening seconds."""
    from speechqa.lexicon import find, tokenise

    if not utterances:
        return []
    opening = [u for u in utterances if u.start_s <= utterances[0].start_s + OPENING_S]
    found = []
    for category in CUE_WEIGHTS:
        for u in opening:
            tokens = tokenise(u.text, language=u.language)
            spans = find(lexicon, category, tokens)
            if spans:
                a, b = spans[0]
                found.append((category, " ".join(t.surface for t in tokens[a:b])))
                break
    return found
