"""Reading a model file that speechqa checks by sha256 (the VAD's, the speaker and segmentation
networks'), and running a checked ONNX network with onnxruntime."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speechqa.errors import SpeechQAError

logger = logging.getLogger("speechqa")


def reinstall_fix(asset: str) -> str:
    """What to do when a model bundled in speechqa/assets/ is absent or damaged."""
    return f"reinstall speechqa (pip install --force-reinstall speechqa) to restore the bundled speechqa/assets/{asset}"


def read_model_file(path: Path, *, name: str, expected_sha256: str | None, fix: str) -> tuple[bytes, str]:
    """The file's bytes and their sha256. Raises SpeechQAError (model_missing), its message
    ending in `fix`, when the file is absent or its sha256 is not `expected_sha256` (None: any)."""
    if not path.is_file():
        raise SpeechQAError(f"{name} not found at {path}: {fix}.", error_type="model_missing")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise SpeechQAError(
            f"{name} at {path} is corrupt or not the expected one (sha256 {digest[:12]}…, "
            f"expected {expected_sha256[:12]}…): {fix}.",
            error_type="model_missing",
        )
    return data, digest


@dataclass(frozen=True, eq=False)
class OnnxNetwork:
    """A network in an onnxruntime session, from a file checked by sha256 (`load_onnx_network`)."""

    session: Any = field(repr=False)   # onnxruntime.InferenceSession
    path: Path
    sha256: str
    threads: int                       # onnxruntime's intra-op threads

    @property
    def model_id(self) -> str:
        """For provenance: which file produced the output."""
        return f"{self.path.name} sha256:{self.sha256[:12]}"


def load_onnx_network(kind: type, path: str | Path | None, *, bundled: Path, expected_sha256: str | None, threads: int,
                      name: str, remake: str, script: str, inputs: tuple[tuple[str, int], ...]):
    """A `kind` (an OnnxNetwork) over the model file at `path` (None: the `bundled` copy in
    speechqa/assets/), loaded once per process (cached per resolved path, hash and thread count).

    The file's sha256 must equal `expected_sha256` (None: any), and the network's inputs (name,
    rank) be `inputs`. name: what the errors call it; remake: the make target that exports the
    bundled file; script: the script that writes it. Raises SpeechQAError (model_missing)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r} must be a positive integer.")
    resolved = str(bundled if path is None else Path(path).expanduser().resolve())
    return _load_onnx_network(kind, resolved, bundled if path is None else None, expected_sha256, threads,
                              name, remake, script, inputs)


@functools.lru_cache(maxsize=8)
def _load_onnx_network(kind: type, path: str, bundled: Path | None, expected_sha256: str | None, threads: int,
                       name: str, remake: str, script: str, inputs: tuple[tuple[str, int], ...]):
    if bundled is not None:
        fix = f"{reinstall_fix(bundled.name)}, or export it again with `{remake}`"
    else:
        fix = (f"point the {name} path at a file as {script} writes it, or leave it unset to use the copy "
               "bundled with speechqa")
    model_path = Path(path)
    data, digest = read_model_file(model_path, name=name, expected_sha256=expected_sha256, fix=fix)
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise SpeechQAError(
            f"onnxruntime is not installed ({exc}); pip install onnxruntime (faster-whisper installs it too)",
            error_type="model_missing",
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:   # onnxruntime raises its own exception types for a bad graph
        raise SpeechQAError(f"{name} at {path} could not be loaded by onnxruntime ({exc}): {fix}.",
                            error_type="model_missing") from None
    found = tuple((i.name, len(i.shape)) for i in session.get_inputs())
    if found != inputs:
        raise SpeechQAError(f"{name} at {path} takes {list(found)}, not {list(inputs)}: {fix}.", error_type="model_missing")
    logger.debug("loaded %s %s (%d threads)", name, path, threads)
    return kind(session, path=model_path, sha256=digest, threads=threads)
