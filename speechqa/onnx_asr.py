"""The second recogniser: CTC and transducer models on onnxruntime through sherpa-onnx (the
`onnx-asr` extra), for weights a user holds locally (GigaAM's CTC and RNNT exports, T-one). The
only module of speechqa that imports sherpa_onnx, inside its functions: importing this module
loads nothing.

A model is a folder, never a name: its ONNX files, its `tokens.txt`, and `speechqa-model.toml`
naming the family, the files, the sample rate (and feature bins) it was trained on, the one
language it reads, and the sha256 of each file, checked before anything is loaded. speechqa.asr
packs the speech into windows as for Whisper and hands each window's audio here; the words come
back with their times in packed seconds as `DecodedWindow`s, and speechqa.packing maps them back.
"""

from __future__ import annotations

import functools
import hashlib
import math
import mmap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechqa.errors import SpeechQAError
from speechqa.names import LANGUAGES
from speechqa.packing import ASR_RATE_HZ, DecodedWindow
from speechqa.protobuf import fields

SIDECAR = "speechqa-model.toml"
INSTALL_HINT = "pip install 'speechqa[onnx-asr]'"
BLANKS = ("<blk>", "<eps>", "<blank>")   # what sherpa-onnx's CTC decoders take for the blank token
STREAM_TAIL_S = 0.6   # silence after a window fed to a streaming model: it decodes a chunk only once the next has begun


@dataclass(frozen=True)
class Family:
    """A kind of model sherpa-onnx loads, and what speechqa checks of it before handing it over."""

    files: tuple[str, ...]      # the sidecar keys that name its files, the one holding the metadata first
    metadata: tuple[str, ...]   # the metadata keys sherpa-onnx reads from that file (it ends the process when one is missing)
    fix: str                    # how a converted model gets them
    frame_s: float              # one output frame, unless the sidecar says otherwise
    feature_dim: bool           # whether the sidecar names the log-mel bins (a streaming T-one reads raw samples)


FAMILIES = {
    # sherpa-onnx's offline NeMo CTC loader (GigaAM v2/v3 CTC exports)
    "nemo_ctc": Family(
        ("model", "tokens"), ("vocab_size", "subsampling_factor", "normalize_type"),
        "export it with sherpa-onnx's scripts/nemo/GigaAM/export-onnx-ctc-v2.py (or -v3), which writes them", 0.04, True),
    # its offline NeMo transducer loader (GigaAM v2/v3 RNNT: encoder, decoder, joiner)
    "nemo_transducer": Family(
        ("encoder", "decoder", "joiner", "tokens"),
        ("vocab_size", "subsampling_factor", "normalize_type", "pred_rnn_layers", "pred_hidden"),
        "export it with sherpa-onnx's scripts/nemo/GigaAM/export-onnx-rnnt-v2.py (or -v3), which writes them into the encoder",
        0.04, True),
    # its online T-one loader (t-tech's streaming CTC model for 8 kHz Russian telephone speech)
    "t_one_ctc": Family(
        ("model", "tokens"), ("frame_length_ms", "state_dim", "sample_rate"),
        "run sherpa-onnx's scripts/t-one/add_meta_data.py on T-one's model.onnx (T-one's own file lacks them)", 0.03, False),
}


@dataclass(frozen=True)
class OnnxModelSpec:
    """What `speechqa-model.toml` says of a model folder."""

    family: str
    files: dict[str, str]          # sidecar key ("model", "encoder", ..., "tokens") -> file name in the folder
    sample_rate_hz: int
    feature_dim: int               # log-mel bins (0 where the family reads raw samples)
    language: str
    frame_s: float                 # one output frame (feature shift x subsampling): a word's last token lasts this long
    sha256: dict[str, str]         # file name -> hex digest


@dataclass(frozen=True)
class OnnxModel:
    folder: str
    spec: OnnxModelSpec
    recognizer: object             # sherpa_onnx.OfflineRecognizer, or OnlineRecognizer for t_one_ctc


def is_onnx_model(model: str) -> bool:
    """Whether `[measure.asr] model` names a folder for this engine (it holds the sidecar)."""
    return (Path(model) / SIDECAR).is_file()


def read_spec(folder: str | Path) -> OnnxModelSpec:
    path = Path(folder) / SIDECAR
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpeechQAError(f"{path}: cannot read it ({exc})", error_type="bad_config") from None
    name = table.get("family")
    family = FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        raise SpeechQAError(f"{path}: family = {table.get('family')!r}; speechqa runs {tuple(FAMILIES)}", error_type="bad_config")
    try:
        spec = OnnxModelSpec(
            family=table["family"], files={key: str(table[key]) for key in family.files},
            sample_rate_hz=int(table["sample_rate_hz"]),
            feature_dim=int(table["feature_dim"]) if family.feature_dim else int(table.get("feature_dim", 0)),
            language=table["language"], frame_s=float(table.get("frame_s", family.frame_s)), sha256=dict(table["sha256"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        needs = ", ".join((*family.files, "sample_rate_hz", *(("feature_dim",) if family.feature_dim else ()), "language"))
        raise SpeechQAError(
            f"{path}: {exc!r} missing or malformed; family {table['family']!r} needs {needs} and a [sha256] table "
            "with each file's digest (see the README, 'A second recogniser')",
            error_type="bad_config",
        ) from None
    if spec.language not in LANGUAGES:
        raise SpeechQAError(f"{path}: language = {spec.language!r}; use one of {LANGUAGES}", error_type="bad_config")
    for name in spec.files.values():
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


def onnx_metadata(path: Path) -> dict[str, str]:
    """An ONNX file's `metadata_props` (ModelProto field 14, entries of key 1 and value 2), read
    through a memory map: the graph's bytes are skipped over, never read (a GigaAM encoder's are
    1 GB). The map is left to the garbage collector: closing it while a slice of it lives raises."""
    with path.open("rb") as f:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    found = {}
    for number, entry in fields(data):
        if number == 14:
            pair = {key: bytes(value).decode("utf-8") for key, value in fields(entry)}
            found[pair.get(1, "")] = pair.get(2, "")
    return found


def read_tokens(path: Path) -> dict[int, str]:
    """tokens.txt as sherpa-onnx reads it: `symbol id` a line; a line of the id alone is a space
    (T-one's word separator)."""
    tokens = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            symbol, _, number = line.rpartition(" ")
            tokens[int(number)] = symbol if symbol.strip() else " "
    return tokens


def check_loadable(folder: str | Path, spec: OnnxModelSpec) -> None:
    """What sherpa-onnx ends the whole process over instead of raising (a metadata key missing, a
    blank token it cannot find or in the wrong place, a tokens.txt of another size), checked
    first so that a wrongly converted model is an error with its fix, not a batch that dies."""
    family = FAMILIES[spec.family]
    first = Path(folder) / spec.files[family.files[0]]
    tokens_path = Path(folder) / spec.files["tokens"]
    try:
        metadata = onnx_metadata(first)
        tokens = read_tokens(tokens_path)
    except (OSError, ValueError, IndexError) as exc:   # IndexError: a file cut short; UnicodeDecodeError is a ValueError
        raise SpeechQAError(f"{first} or {tokens_path} cannot be read as ONNX and tokens ({exc})", error_type="model_missing") from None
    missing = [key for key in family.metadata if key not in metadata]
    if missing:
        raise SpeechQAError(f"{first} lacks the metadata {missing} that sherpa-onnx reads: {family.fix}", error_type="model_missing")
    numbers = {key: metadata[key] for key in ("vocab_size", "sample_rate") if key in family.metadata}
    if not all(value.strip().isdigit() for value in numbers.values()):
        raise SpeechQAError(f"{first}: the metadata {numbers} should be whole numbers: {family.fix}", error_type="model_missing")
    if spec.family == "nemo_transducer":
        size = int(metadata["vocab_size"]) + 1   # NeMo's vocab_size leaves the blank out
        if tokens.get(size - 1) != "<blk>" or len(tokens) != size:
            raise SpeechQAError(
                f"{tokens_path}: sherpa-onnx wants {size} tokens (the encoder's vocab_size and the blank) with <blk> last, "
                f"id {size - 1}: write it with the export script's tokens, or export the encoder anew",
                error_type="model_missing",
            )
    if spec.family == "t_one_ctc":
        if not set(tokens.values()) & set(BLANKS):
            raise SpeechQAError(f"{tokens_path} has no blank token (one of {BLANKS}): T-one's [PAD] is written as <blk> "
                                "by sherpa-onnx's scripts/t-one/generate_tokens.py", error_type="model_missing")
        if int(metadata["sample_rate"]) != spec.sample_rate_hz:
            raise SpeechQAError(f"{Path(folder) / SIDECAR}: sample_rate_hz = {spec.sample_rate_hz}, but {first} reads "
                                f"{metadata['sample_rate']} Hz: write {metadata['sample_rate']} there", error_type="bad_config")


@functools.lru_cache(maxsize=2)
def load_onnx_model(folder: str, *, threads: int = 0) -> OnnxModel:
    """The recogniser of a checked model folder, once per process."""
    spec = read_spec(folder)
    try:   # before the digests: hashing a gigabyte of weights only to then say "install the extra" wastes a minute
        import sherpa_onnx
    except ImportError as exc:
        raise SpeechQAError(f"{folder} is a model for sherpa-onnx, which is not installed ({exc}): {INSTALL_HINT}",
                            error_type="model_missing") from None
    verify(folder, spec)
    check_loadable(folder, spec)
    path = {key: str(Path(folder) / name) for key, name in spec.files.items()}
    common = dict(tokens=path["tokens"], num_threads=threads or 2, sample_rate=spec.sample_rate_hz)
    try:
        if spec.family == "nemo_ctc":
            recognizer = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(model=path["model"], feature_dim=spec.feature_dim, **common)
        elif spec.family == "nemo_transducer":
            recognizer = sherpa_onnx.OfflineRecognizer.from_transducer(
                encoder=path["encoder"], decoder=path["decoder"], joiner=path["joiner"], feature_dim=spec.feature_dim,
                model_type="nemo_transducer", decoding_method="greedy_search", **common)
        else:
            recognizer = sherpa_onnx.OnlineRecognizer.from_t_one_ctc(model=path["model"], **common)
    except Exception as exc:   # onnxruntime and sherpa-onnx raise many kinds; all mean "no model"
        raise SpeechQAError(f"cannot load the model in {folder} ({exc})", error_type="model_missing") from None
    return OnnxModel(folder=folder, spec=spec, recognizer=recognizer)


def words_from_tokens(
    tokens: list[str], times_s: list[float], *, frame_s: float, end_s: float, log_probs: list[float] | None = None
) -> list[tuple[str, float, float, float]]:
    """Tokens and their start times joined into (word, start_s, end_s, probability). A word starts
    at a SentencePiece token's `▁` (or the space sherpa-onnx writes for it); a separator alone
    (T-one's `|`, a space in its tokens.txt) ends the word before it, and the next token starts
    one. A word ends where the next begins or one frame after its last token, never after
    `end_s`. Its probability is the mean of its tokens' (as faster-whisper's is), 1 where the
    model gives none."""
    probabilities = [math.exp(p) for p in log_probs] if log_probs and len(log_probs) == len(tokens) else [1.0] * len(tokens)
    words: list[list] = []
    boundary = True
    for token, t, p in zip(tokens, times_s, probabilities):
        text = token.lstrip("▁ ")
        if not text:
            boundary = True
        elif boundary or token.startswith(("▁", " ")):
            words.append([text, float(t), float(t) + frame_s, [p]])
            boundary = False
        else:
            words[-1][0] += text
            words[-1][2] = float(t) + frame_s
            words[-1][3].append(p)
    for word, following in zip(words, words[1:]):
        word[2] = min(word[2], following[1])
    return [(text, start, min(end, end_s), float(np.mean(ps))) for text, start, end, ps in words]


def _read_offline(audios: list[np.ndarray], recognizer) -> list[tuple[str, list, list, list]]:
    streams = []
    for audio in audios:
        stream = recognizer.create_stream()
        stream.accept_waveform(ASR_RATE_HZ, np.ascontiguousarray(audio, dtype=np.float32))
        streams.append(stream)
    recognizer.decode_streams(streams)
    return [(s.result.text, list(s.result.tokens), list(s.result.timestamps), list(s.result.ys_log_probs)) for s in streams]


def _read_streaming(audios: list[np.ndarray], recognizer, *, sample_rate_hz: int) -> list[tuple[str, list, list, list]]:
    """Each window as a stream of its own, brought to the model's rate here (soxr, as packing
    does) rather than by sherpa-onnx's resampler, and followed by silence so that its last chunk
    is decoded; the streams advance a chunk at a time together."""
    import soxr

    streams = []
    for audio in audios:
        audio = np.asarray(audio, dtype=np.float32)
        if sample_rate_hz != ASR_RATE_HZ:
            audio = soxr.resample(audio, ASR_RATE_HZ, sample_rate_hz, quality="HQ").astype(np.float32)
        stream = recognizer.create_stream()
        stream.accept_waveform(sample_rate_hz, np.concatenate([audio, np.zeros(int(STREAM_TAIL_S * sample_rate_hz), np.float32)]))
        stream.input_finished()
        streams.append(stream)
    while ready := [s for s in streams if recognizer.is_ready(s)]:
        recognizer.decode_streams(ready)
    results = [recognizer.get_result_all(s) for s in streams]
    return [(r.text, list(r.tokens), list(r.timestamps), list(r.ys_probs)) for r in results]


def decode(audios: list[np.ndarray], windows: list[tuple[float, float]], *, model: OnnxModel) -> list[DecodedWindow]:
    """Each window's audio (16 kHz) read by the model, all as one batch of streams; the words'
    times in packed seconds. These models do not invent text on silence as Whisper does, so no
    window is judged invented (no-speech probability 0). A word's probability comes from its
    tokens' log-probabilities where the model gives them (transducers), else it is 1."""
    if model.spec.family == "t_one_ctc":
        read = _read_streaming(audios, model.recognizer, sample_rate_hz=model.spec.sample_rate_hz)
    else:
        read = _read_offline(audios, model.recognizer)
    decoded = []
    for (start, end), (text, tokens, times, log_probs) in zip(windows, read):
        words = words_from_tokens(tokens, times, frame_s=model.spec.frame_s, end_s=end - start, log_probs=log_probs)
        decoded.append(DecodedWindow(
            text=text.strip(),
            avg_logprob=float(np.mean(log_probs)) if log_probs else 0.0,
            no_speech_prob=0.0,
            compression_ratio=0.0,
            words=tuple((word, start + a, start + b, p) for word, a, b, p in words),
        ))
    return decoded
