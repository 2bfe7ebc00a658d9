"""Where a model named by a relative path is: the one rule for every command, from any folder.

The shipped configuration names `models/whisper-base`, which `make models` assembles inside the
project. Read against the working directory alone, that name found nothing once `speechqa score`
ran from any other folder, and the advice to run `make models` sent the user to build a model
that was there already. A relative name is looked up in the working directory first (where a
user's own `--model my-models/x` means it), then in the project folder this package sits in.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]   # a source checkout; an installed package has no models/ beside it


def model_candidates(model: str) -> list[Path]:
    """The folders a model name may mean, in the order they are tried."""
    path = Path(model).expanduser()
    if path.is_absolute():
        return [path]
    return [Path.cwd() / path, PROJECT_ROOT / path]


def find_model(model: str, *, marker: str = "model.bin") -> Path | None:
    """The first candidate folder holding `marker`, or None."""
    return next((folder for folder in model_candidates(model) if (folder / marker).is_file()), None)


def where_looked(model: str) -> str:
    """The folders tried, for a message: 'a or b'."""
    return " or ".join(str(folder) for folder in dict.fromkeys(model_candidates(model)))
