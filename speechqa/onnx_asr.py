"""The second recogniser: CTC models on onnxruntime through sherpa-onnx (the `onnx-asr` extra),
for weights a user holds locally (GigaAM's CTC export, for one). The only module of speechqa that
imports sherpa_onnx, inside its functions: importing this module loads nothing.

A model is a folder, never a name: the ONNX file, its `tokens.txt`, and `speechqa-model.toml`
naming the family, the sample rate and feature bins it was trained on, the one language it
reads, and the sha256 of each file, checked before anything is loaded. speechqa.asr packs the
speech into windows as for Whisper and hands each window's audio here; the words come back with
their times in packed seconds as `DecodedWindow`s, and speechqa.packing maps them back.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechqa.errors import SpeechQAError
from speechqa.names import LANGUAGES
from speechqa.packing import ASR_RATE_HZ, DecodedWindow

SIDECAR = "speechqa-model.toml"
FAMILIES = ("nemo_ctc",)   # sherpa-onnx's offline NeMo CTC loader (GigaAM v2/v3 CTC exports)
INSTALL_HINT = "pip install 'speechqa[onnx-asr]'"


@dataclass(frozen=True)
class OnnxModelSpec:
    """What `speechqa-model.toml` says of a model folder."""

    family: str
    model_file: str
    tokens_file: str
    sample_rate_hz: int
    feature_dim: int
    language: str
    frame_s: float                 # one output frame (feature shift x subsampling): a word's last token lasts this long
    sha256: dict[str, str]         # file name -> hex digest


@dataclass(frozen=True)
class OnnxModel:
    folder: str
    spec: OnnxModelSpec
    recognizer: object             # sherpa_onnx.OfflineRecognizer


def is_onnx_model(model: str) -> bool:
    """Whether `[measure.asr] model` names a folder for this engine (it holds the sidecar)."""
    return (Path(model) / SIDECAR).is_file()


def read_spec(folder: str | Path) -> OnnxModelSpec:
    path = Path(folder) / SIDECAR
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpeechQAError(f"{path}: cannot read it ({exc})", error_type="bad_config") from None
    try:
        spec = OnnxModelSpec(
            family=table["family"], model_file=table["model"], tokens_file=table["tokens"],
            sample_rate_hz=int(table["sample_rate_hz"]), feature_dim=int(table["feature_dim"]),
            language=table["language"], frame_s=float(table.get("frame_s", 0.04)), sha256=dict(table["sha256"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SpeechQAError(
            f"{path}: {exc!r} missing or malformed; it needs family, model, tokens, sample_rate_hz, feature_dim, "
            "language and a [sha256] table with each file's digest (see the README, 'A second recogniser')",
            error_type="bad_config",
        ) from None
    if spec.family not in FAMILIES:
        raise SpeechQAError(f"{path}: family = {spec.family!r}; speechqa runs {FAMILIES}", error_type="bad_config")
    if spec.language not in LANGUAGES:
        raise SpeechQAError(f"{path}: language = {spec.language!r}; use one of {LANGUAGES}", error_type="bad_config")
    for name in (spec.model_file, spec.tokens_file):
        if name not in spec.sha256:
            raise SpeechQAError(f"{path}: [sha256] has no digest for {name}: add `sha256sum {name}`'s", error_type="bad_config")
    return spec


def verify(folder: str | Path, spec: OnnxModelSpec) -> None:
    """Every file's sha256 against the sidecar's, before anything is loaded."""
    for name, expected in spec.sha256.items():
        path = Path(folder) / name
        if not path.is_file():
            raise SpeechQAError(f"{path} is missing (named in {SIDECAR})", error_type="model_missing")
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected.lower():
            raise SpeechQAError(
                f"{path}: sha256 {digest.hexdigest()} is not the {expected} that {SIDECAR} expects: "
                "copy the file again, or write its digest there if it was converted anew",
                error_type="model_missing",
            )


@functools.lru_cache(maxsize=2)
def load_onnx_model(folder: str, *, threads: int = 0) -> OnnxModel:
    """The recogniser of a checked model folder, once per process."""
    spec = read_spec(folder)
    verify(folder, spec)
    try:
        import sherpa_onnx
    except ImportError as exc:
        raise SpeechQAError(f"{folder} is a model for sherpa-onnx, which is not installed ({exc}): {INSTALL_HINT}",
                            error_type="model_missing") from None
    try:
        recognizer = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(
            model=str(Path(folder) / spec.model_file), tokens=str(Path(folder) / spec.tokens_file),
            num_threads=threads or 2, sample_rate=spec.sample_rate_hz, feature_dim=spec.feature_dim,
        )
    except Exception as exc:   # onnxruntime and sherpa-onnx raise many kinds; all mean "no model"
        raise SpeechQAError(f"cannot load the model in {folder} ({exc})", error_type="model_missing") from None
    return OnnxModel(folder=folder, spec=spec, recognizer=recognizer)


def words_from_tokens(tokens: list[str], times_s: list[float], *, frame_s: float, end_s: float) -> list[tuple[str, float, float]]:
    """SentencePiece tokens (a word starts at each `▁`, or a space as sherpa-onnx writes it) and
    their start times joined into (word, start_s, end_s): a word ends where the next begins or
    one frame after its last token, never after `end_s`."""
    words: list[list] = []
    for token, t in zip(tokens, times_s):
        starts_word = token.startswith(("▁", " ")) or not words
        text = token.lstrip("▁ ")
        if starts_word:
            words.append([text, float(t), float(t) + frame_s])
        else:
            words[-1][0] += text
            words[-1][2] = float(t) + frame_s
    for word, following in zip(words, words[1:]):
        word[2] = min(word[2], following[1])
    return [(text, start, min(end, end_s)) for text, start, end in words if text]


def decode(audios: list[np.ndarray], windows: list[tuple[float, float]], *, model: OnnxModel) -> list[DecodedWindow]:
    """Each window's audio (16 kHz) read by the model, all as one batch of streams; the words'
    times in packed seconds. CTC models do not invent text on silence as Whisper does, so no
    window is judged invented (no-speech probability 0); a word's probability is 1 where the
    model gives no token probabilities."""
    streams = []
    for audio in audios:
        stream = model.recognizer.create_stream()
        stream.accept_waveform(ASR_RATE_HZ, np.ascontiguousarray(audio, dtype=np.float32))
        streams.append(stream)
    model.recognizer.decode_streams(streams)
    decoded = []
    for (start, end), stream in zip(windows, streams):
        result = stream.result
        words = words_from_tokens(list(result.tokens), list(result.timestamps), frame_s=model.spec.frame_s, end_s=end - start)
        logprobs = list(getattr(result, "ys_log_probs", []) or [])
        decoded.append(DecodedWindow(
            text=result.text.strip(),
            avg_logprob=float(np.mean(logprobs)) if logprobs else 0.0,
            no_speech_prob=0.0,
            compression_ratio=0.0,
            words=tuple((text, start + a, start + b, 1.0) for text, a, b in words),
        ))
    return decoded
