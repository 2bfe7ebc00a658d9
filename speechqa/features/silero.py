"""The Silero VAD network (v5/v6) in numpy, its weights read from the ONNX file it ships as.

Why not onnxruntime: the network is small (a 4-frame STFT, four convolutions, one LSTM cell) and
a call needs one step per 32 ms, ~7,400 steps for a 4-minute call. Step by step, onnxruntime's
per-call overhead is most of the cost (~245 us a step for two channels, 2.1 s for that call).
Only the LSTM cell depends on the previous step: everything before it is computed for a whole
block of windows in a few matrix products, and the cell's input projection too, so what is
left step by step is one 128 x 512 product and a few element-wise operations. Same weights,
same arithmetic (float32); the probabilities agree with onnxruntime's to ~1e-5
(tests/test_vad.py checks it on a real call).

The weights are read from the ONNX protobuf directly (speechqa.protobuf, a minimal wire-format reader), so
that the ONNX file stays the one source of them and the `onnx` package is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechqa.protobuf import fields, varint

HIDDEN = 128
STATE_SHAPE = (2, HIDDEN)   # (h, c); (2, batch, 128) once the batch is known
_STRIDES = (1, 2, 2, 1)     # the four encoder convolutions (kernel 3, padding 1)
_PARAMETERS = (
    "stft.forward_basis_buffer",
    *(f"encoder.{i}.reparam_conv.{kind}" for i in range(4) for kind in ("weight", "bias")),
    "decoder.rnn.weight_ih", "decoder.rnn.weight_hh", "decoder.rnn.bias_ih", "decoder.rnn.bias_hh",
    "decoder.decoder.2.weight", "decoder.decoder.2.bias",
)


@dataclass(frozen=True)
class SileroNet:
    """The network at one sample rate, its weights laid out for the computation below."""

    sample_rate_hz: int
    window: int              # new samples per step: 512 at 16 kHz, 256 at 8 kHz
    context: int             # samples of the previous window in front: 64 / 32
    basis: np.ndarray        # (filter, 2 * bins): the STFT's windowed cosines, then sines
    convs: tuple[tuple[np.ndarray, np.ndarray, int], ...]   # ((3 * in, out) weight, bias, stride)
    input_weight: np.ndarray   # (128, 512) LSTM input projection, gates reordered i, f, o, g
    hidden_weight: np.ndarray  # (128, 512) and recurrent one; the i, f, o columns halved
    gate_bias: np.ndarray      # (512,) both LSTM biases, summed
    out_weight: np.ndarray     # (128,)
    out_bias: float


def read_nets(onnx_bytes: bytes) -> dict[int, SileroNet]:
    """The network at each sample rate whose weights the Silero ONNX file holds (the official
    export holds 8 kHz and 16 kHz, one branch each). Raises ValueError if it holds none."""
    nets = {}
    for tensors in _tensors_by_graph(memoryview(onnx_bytes)):
        found = {p: a for name, a in tensors.items() for p in _PARAMETERS if name.endswith(p)}
        if len(found) == len(_PARAMETERS):
            net = _net(found)
            nets[net.sample_rate_hz] = net
    if not nets:
        raise ValueError("no Silero v5/v6 network found in it (stft, encoder and decoder.rnn weights)")
    return nets


def _net(w: dict[str, np.ndarray]) -> SileroNet:
    basis = w["stft.forward_basis_buffer"][:, 0, :]          # (2 * bins, filter)
    filter_length = basis.shape[1]
    window = 2 * filter_length                                  # 4 STFT frames at hop filter / 2
    convs = []
    for i, stride in enumerate(_STRIDES):
        weight = w[f"encoder.{i}.reparam_conv.weight"]          # (out, in, 3)
        # Laid out for an input whose three shifted copies sit side by side: (3 * in, out).
        convs.append((np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(-1, weight.shape[0])),
                      w[f"encoder.{i}.reparam_conv.bias"], stride))
    # PyTorch's LSTMCell gates are i, f, g, o. Reordered to i, f, o, g so that the three sigmoids
    # are one slice, and those rows halved: sigmoid(x) = 0.5 + 0.5 tanh(x / 2), one tanh call for
    # all four gates (halving is exact in binary floating point).
    order = np.r_[0:2 * HIDDEN, 3 * HIDDEN:4 * HIDDEN, 2 * HIDDEN:3 * HIDDEN]
    scale = np.r_[np.full(3 * HIDDEN, 0.5), np.ones(HIDDEN)].astype(np.float32)
    bias = (w["decoder.rnn.bias_ih"] + w["decoder.rnn.bias_hh"])[order] * scale
    return SileroNet(
        sample_rate_hz=window * 1000 // 32,                     # a window is 32 ms: 512 -> 16 kHz
        window=window,
        context=window // 8,
        basis=np.ascontiguousarray(basis.T),
        convs=tuple(convs),
        input_weight=np.ascontiguousarray((w["decoder.rnn.weight_ih"][order] * scale[:, None]).T),
        hidden_weight=np.ascontiguousarray((w["decoder.rnn.weight_hh"][order] * scale[:, None]).T),
        gate_bias=bias.astype(np.float32),
        out_weight=np.ascontiguousarray(w["decoder.decoder.2.weight"][0, :, 0]),
        out_bias=float(w["decoder.decoder.2.bias"][0]),
    )


def probabilities(net: SileroNet, windows: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Speech probabilities of consecutive windows: windows (steps, batch, context + window)
    float32, state (2, batch, 128) -> (probabilities (steps, batch), the state after the last)."""
    steps, batch, length = windows.shape
    gate_inputs = _encode(net, windows.reshape(steps * batch, length)) @ net.input_weight + net.gate_bias
    gate_inputs = gate_inputs.reshape(steps, batch, 4 * HIDDEN)
    h, c = state[0].astype(np.float32), state[1].astype(np.float32)
    hidden = np.empty((steps, batch, HIDDEN), np.float32)
    for t in range(steps):
        gates = np.tanh(gate_inputs[t] + h @ net.hidden_weight)
        sig = 0.5 + 0.5 * gates[:, : 3 * HIDDEN]
        c = sig[:, HIDDEN: 2 * HIDDEN] * c + sig[:, :HIDDEN] * gates[:, 3 * HIDDEN:]
        h = sig[:, 2 * HIDDEN:] * np.tanh(c)
        hidden[t] = h
    logits = np.maximum(hidden, 0.0) @ net.out_weight + net.out_bias
    return (0.5 + 0.5 * np.tanh(0.5 * logits)).astype(np.float32), np.stack([h, c])


def _encode(net: SileroNet, x: np.ndarray) -> np.ndarray:
    """The stateless part for many windows at once: (n, context + window) -> (n, 128)."""
    filter_length = net.basis.shape[0]
    hop = filter_length // 2
    x = np.concatenate([x, x[:, -2: -2 - filter_length // 4: -1]], axis=1)   # reflect, right
    frames = (x.shape[1] - filter_length) // hop + 1
    spectrum = np.stack([x[:, t * hop: t * hop + filter_length] for t in range(frames)], axis=1) @ net.basis
    bins = spectrum.shape[-1] // 2
    h = np.sqrt(np.square(spectrum[..., :bins]) + np.square(spectrum[..., bins:]))   # (n, frames, bins)
    for weight, bias, stride in net.convs:
        n, length, _ = h.shape
        padded = np.pad(h, ((0, 0), (1, 1), (0, 0)))
        out = (length - 1) // stride + 1
        shifted = np.concatenate([padded[:, k: k + stride * (out - 1) + 1: stride] for k in range(3)], axis=-1)
        h = shifted.reshape(n * out, -1) @ weight + bias
        h = np.maximum(h, 0.0, out=h).reshape(n, out, -1)
    return h[:, 0, :]


# --- the ONNX file: protobuf wire format, only what the weights need --------------------------
# Field numbers from onnx.proto: ModelProto.graph 7; GraphProto.node 1, .initializer 5;
# NodeProto.output 2, .op_type 4, .attribute 5; AttributeProto.t 5, .g 6;
# TensorProto.dims 1, .data_type 2, .float_data 4, .name 8, .raw_data 9.
_FLOAT = 1


def _tensors_by_graph(model: memoryview) -> list[dict[str, np.ndarray]]:
    """The float tensors of every graph and subgraph (Constant nodes and initializers), by name."""
    graphs: list[dict[str, np.ndarray]] = []
    for field, value in fields(model):
        if field == 7:
            _walk_graph(value, graphs)
    return graphs


def _walk_graph(graph: memoryview, graphs: list[dict[str, np.ndarray]]) -> None:
    tensors: dict[str, np.ndarray] = {}
    graphs.append(tensors)
    for field, value in fields(graph):
        if field == 5:
            name, array = _tensor(value)
            if array is not None:
                tensors[name] = array
        elif field == 1:
            op_type, outputs, attributes = _node(value)
            for attr_field, attr_value in attributes:
                if attr_field == 5 and op_type == "Constant" and outputs:
                    _, array = _tensor(attr_value)
                    if array is not None:
                        tensors[outputs[0]] = array
                elif attr_field == 6:
                    _walk_graph(attr_value, graphs)


def _node(data: memoryview) -> tuple[str, list[str], list[tuple[int, memoryview]]]:
    """A node's op_type, its outputs, and the fields of all its attributes."""
    op_type, outputs, attributes = "", [], []
    for field, value in fields(data):
        if field == 2:
            outputs.append(bytes(value).decode())
        elif field == 4:
            op_type = bytes(value).decode()
        elif field == 5:
            attributes += fields(value)
    return op_type, outputs, attributes


def _tensor(data: memoryview) -> tuple[str, np.ndarray | None]:
    dims, data_type, name, payload = [], 0, "", None
    for field, value in fields(data):
        if field == 1:
            dims += _packed_varints(value) if isinstance(value, memoryview) else [value]
        elif field == 2:
            data_type = value
        elif field == 8:
            name = bytes(value).decode()
        elif field in (4, 9):
            payload = value
    if data_type != _FLOAT or payload is None or not isinstance(payload, memoryview):
        return name, None
    return name, np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(dims)


def _packed_varints(data: memoryview) -> list[int]:
    values, i = [], 0
    while i < len(data):
        value, i = varint(data, i)
        values.append(value)
    return values
