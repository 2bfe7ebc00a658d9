"""Reading a model file that speechqa checks by sha256 (the VAD's, the speaker model's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from speechqa.errors import SpeechQAError


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


def model_path_key(path: str | Path | None, *, bundled: Path, threads: int) -> str:
    """The resolved path of an onnxruntime model (None: the bundled one), as its loader caches it;
    checks the thread count."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r} must be a positive integer.")
    return str(bundled if path is None else Path(path).expanduser().resolve())


def open_onnx_model(path: str, *, bundled: Path | None, expected_sha256: str | None, threads: int, name: str,
                    remake: str, script: str, inputs: list[tuple[str, int]]):
    """An onnxruntime session over the model file at `path`, checked by sha256 (None: any), on
    `threads` intra-op threads, whose inputs (name, rank) must be `inputs`; and the file's sha256.

    bundled: the copy in speechqa/assets/ when `path` is it, else None (the user's own file): what
    the error says to do differs. remake: the make target that exports the bundled file; script: the
    script that writes it. Raises SpeechQAError (model_missing)."""
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
    found = [(i.name, len(i.shape)) for i in session.get_inputs()]
    if found != inputs:
        raise SpeechQAError(f"{name} at {path} takes {found}, not {inputs}: {fix}.", error_type="model_missing")
    return session, digest
