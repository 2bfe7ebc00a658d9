"""Which channel is the agent: from configuration, or (auto) the party who speaks first.

The transcript-based decision (the agent greets and names the company) comes with transcription;
until then `auto` falls back to who speaks first, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANNEL_NAMES = ("left", "right")


@dataclass(frozen=True)
class Roles:
    agent_channel: int | None   # 0 = left, 1 = right, None for mono
    method: str                 # "config", "first_speaker" or "mono"
    evidence: str

    @property
    def agent(self) -> str | None:
        return None if self.agent_channel is None else CHANNEL_NAMES[self.agent_channel]

    @property
    def caller(self) -> str | None:
        return None if self.agent_channel is None else CHANNEL_NAMES[1 - self.agent_channel]


def assign_roles(speech_by_channel: list[np.ndarray], *, agent: str) -> Roles:
    """Roles of a two-channel call. `agent` is "left", "right" or "auto"."""
    if agent in CHANNEL_NAMES:
        return Roles(CHANNEL_NAMES.index(agent), "config", f"agent = {agent!r} in the configuration")
    onsets = [float(s[0, 0]) if len(s) else np.inf for s in speech_by_channel]
    first = int(np.argmin(onsets))
    described = ", ".join(
        f"{name} {'never speaks' if np.isinf(t) else f'first speaks at {t:.2f} s'}"
        for name, t in zip(CHANNEL_NAMES, onsets)
    )
    return Roles(first, "first_speaker", described)
