"""`make scorecards`: score every sample call in a folder and print the scorecards.

`speechqa score` over the folder (the main job, `make run`, is pipelines/nightly.py).
Usage: python -m pipelines.score_samples [FOLDER] [speechqa score options...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from speechqa.cli import main as speechqa_main

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".rf64", ".au", ".gsm"}


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path("samples")
    calls = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not calls:
        print(f"Error: no audio files in {folder}", file=sys.stderr)
        return 1
    return speechqa_main(["score", *map(str, calls), *argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
