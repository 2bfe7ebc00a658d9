"""What speechqa.audio needs to know about containers beyond what its decoders say: a WAV
header's chunks (a data size short of, or beyond, the file), an Ogg stream's last page, and the
messages mpg123 writes on its own while libsndfile decodes an MP3.

Reads bytes, never decodes: speechqa.audio calls these around libsndfile and FFmpeg.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import sys
import tempfile
import threading
from dataclasses import dataclass

import soundfile as sf

logger = logging.getLogger("speechqa.audio")

WAV_UNKNOWN_SIZE = 0xFFFFFFFF  # what streaming writers put in a RIFF data size they never fixed


# --- mpg123's own messages ----------------------------------------------------------------------

# libsndfile decodes MP3 with mpg123, which writes its notes on a damaged stream ("Note: Illegal
# Audio-MPEG-Header ...", "Note: Trying to resync...", "[src/libmpg123/parse.c:...] error: ...")
# straight to file descriptor 2, bypassing Python: four such lines for one bad file. libsndfile
# offers no switch for them, so while an MP3 is decoded fd 2 goes to a temporary file; mpg123's
# lines become DEBUG log records, anything else written meanwhile (another thread) is passed on.
_MPG123_PREFIXES = ("Note: ", "Warning: ", "[src/libmpg123/", "[libmpg123", "Error: ")
_STDERR_LOCK = threading.Lock()


def looks_like_mp3(name: str) -> bool:
    """An ID3 tag or an MPEG audio frame sync at the start, or an .mp3 name."""
    with open(name, "rb") as fh:
        head = fh.read(3)
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0) \
        or name.lower().endswith(".mp3")


@contextlib.contextmanager
def decoder_chatter_to_debug(name: str, active: bool):
    if not active:
        yield
        return
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):   # no fd 2 (a daemon): nothing to keep clean
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                passed = []
                for line in sink.read().decode("utf-8", "replace").splitlines():
                    if line.startswith(_MPG123_PREFIXES):
                        logger.debug("%s: mpg123: %s", name, line)
                    else:
                        passed.append(line + "\n")
                if passed:
                    os.write(2, "".join(passed).encode())


# --- headers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavHeader:
    format_tag: int | None       # from 'fmt ' (the SubFormat's for WAVE_FORMAT_EXTENSIBLE)
    byte_rate: int
    data_declared: int | None    # bytes the header promises; None when unknown (0xFFFFFFFF, no data chunk)
    data_available: int          # bytes from the start of the data to the end of the file
    data_offset: int = 0         # where the 'data' chunk's header starts
    block_align: int = 0         # bytes per frame (per block for ADPCM, GSM)
    understated: bool = False    # RIFF: the data size stops short of the file, and no chunk follows it


def opener_with_data_size(name: str, wav: WavHeader, size: int):
    """An opener of the file as libsndfile should see it: RIFF and data sizes covering the data
    that is there (whole frames), read through a view that changes those 8 bytes only."""
    data = wav.data_available - (wav.data_available % wav.block_align if wav.block_align else 0)
    patches = {4: struct.pack("<I", min(size - 8, WAV_UNKNOWN_SIZE - 1)),
               wav.data_offset + 4: struct.pack("<I", min(data, WAV_UNKNOWN_SIZE - 1))}
    return lambda: sf.SoundFile(PatchedFile(name, patches))


class PatchedFile:
    """A read-only file whose bytes at a few offsets read as given (soundfile's virtual I/O)."""

    def __init__(self, name: str, patches: dict[int, bytes]):
        self._f = open(name, "rb")
        self._patches = patches

    def read(self, n: int = -1) -> bytes:
        at = self._f.tell()
        data = bytearray(self._f.read(n))
        for offset, patch in self._patches.items():
            for i, byte in enumerate(patch):
                if at <= offset + i < at + len(data):
                    data[offset + i - at] = byte
        return bytes(data)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


def read_wav_header(name: str, size: int) -> WavHeader | None:
    """Walk the RIFF/RF64 chunks up to 'data'; None when the file is not RIFF WAVE."""
    with open(name, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
            return None
        is_rf64 = head[:4] != b"RIFF"
        tag, byte_rate, block_align, ds64_data, pos = None, 0, 0, None, 12
        for _ in range(1000):
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                break
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"ds64":
                body = fh.read(16)
                if len(body) == 16:
                    ds64_data = struct.unpack("<Q", body[8:16])[0]
            elif chunk_id == b"fmt ":
                body = fh.read(min(chunk_size, 40))
                if len(body) >= 16:
                    tag, _, _, byte_rate, block_align = struct.unpack("<HHIIH", body[:14])
                    if tag == 0xFFFE and len(body) >= 26:
                        tag = struct.unpack("<H", body[24:26])[0]
            elif chunk_id == b"data":
                declared = chunk_size
                if is_rf64 and chunk_size == WAV_UNKNOWN_SIZE:
                    declared = ds64_data
                elif chunk_size == WAV_UNKNOWN_SIZE:
                    declared = None
                available = max(0, size - pos - 8)
                # 0 and 0xFFFFFFFF are a streaming writer's placeholders, which libsndfile reads to the end
                understated = (not is_rf64 and declared not in (None, 0) and declared < available
                               and not _chunk_follows(fh, pos + 8 + declared + (declared & 1), size)
                               and available - declared > max(block_align, 1))
                return WavHeader(tag, byte_rate, declared, available, pos, block_align, understated)
            pos += 8 + chunk_size + (chunk_size & 1)
        return WavHeader(tag, byte_rate, None, 0, 0, block_align)


def _chunk_follows(fh, pos: int, size: int) -> bool:
    """Whether a RIFF chunk (a printable id, a size inside the file) starts at `pos`, or the file
    ends there: then the bytes after the data are not more audio (a LIST or id3 chunk, padding)."""
    if pos + 8 > size:
        return True   # at most a few bytes of padding after the data
    fh.seek(pos)
    head = fh.read(8)
    chunk_id, chunk_size = head[:4], struct.unpack("<I", head[4:])[0]
    return all(32 <= b < 127 for b in chunk_id) and pos + 8 + chunk_size <= size + 1


def ogg_unfinished(name: str, size: int) -> bool:
    """True when the last Ogg page is incomplete or lacks the end-of-stream flag (a cut file)."""
    with open(name, "rb") as fh:
        fh.seek(max(0, size - 65536))             # an Ogg page is at most 65,307 bytes
        tail = fh.read()
    start = tail.rfind(b"OggS\x00")
    if start < 0:
        return False                              # no page in the tail: nothing to judge by
    if start + 27 > len(tail):
        return True                               # the file ends inside a page header
    n_segments = tail[start + 26]
    lacing = tail[start + 27:start + 27 + n_segments]
    complete = len(lacing) == n_segments and start + 27 + n_segments + sum(lacing) == len(tail)
    end_of_stream = bool(tail[start + 5] & 0x04)
    return not (complete and end_of_stream)
