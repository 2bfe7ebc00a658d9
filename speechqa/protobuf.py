"""A minimal protobuf wire-format reader: enough to walk an ONNX file's messages without the
`onnx` package (speechqa.features.silero reads the VAD's weights with it, speechqa.onnx_asr a
model's metadata). Over a memory map, skipping a field copies nothing and reads none of its bytes.
"""

from __future__ import annotations


def fields(data: memoryview):
    """(field number, value) of each field of one protobuf message: an int for varints, the
    bytes (a memoryview) for length-delimited and fixed-size fields."""
    i, end = 0, len(data)
    while i < end:
        key, i = varint(data, i)
        wire = key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            size, i = varint(data, i)
            value, i = data[i: i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i: i + size], i + size
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {i}: not an ONNX file this reader knows")
        yield key >> 3, value


def varint(data: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7
