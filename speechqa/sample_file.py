"""A decoded recording's samples in a temporary file, read a block at a time.

What keeps a long call's memory bounded: `speechqa.audio` decodes a recording once, at the
analysis rate, into a file under the system's temporary folder, and the measurement reads it
back in blocks of seconds or minutes, so a 2-hour call needs no more memory than a 10-minute one
(held whole, its float32 samples alone are 460 MB at 8 kHz stereo).

- Positioned reads (os.preadv), not a memory map: mapped pages count in a process's resident
  memory as they are touched, and a measurement touches every one.
- The file is unlinked as soon as it is open (`tempfile.TemporaryFile`), so nothing is left
  behind whatever ends the process, an error or a kill; its space is freed when the descriptor
  closes (`close()`, or when the last SampleFile over it is collected).
- Laid out in segments of _SEGMENT samples, each channel's part of a segment contiguous, so a
  file grows as it is written (its length is not known before the decoder ends) and one
  channel's block is one or two reads.
- Each channel's DC offset (`speechqa.audio` measures it while writing) is subtracted as it is
  read: the file keeps the decoded samples, the reader gives what the measurement analyses.

A SampleFile slices like the float32 (channels, n) array it stands for: `samples[c, a:b]` and
`samples[:, a:b]` read blocks, `samples[c]` is a ChannelReader that slices as a 1-D array
(`reader[a:b]`), `samples[[c]]` or `samples[c:c + 1]` a SampleFile of those channels, and
`np.asarray(samples)` reads it all (tests, short clips). `mixed()` is one channel, the mean of
all (a dual-mono call). The feature functions take these as they take arrays, and slice them.
"""

from __future__ import annotations

import os
import tempfile
import weakref

import numpy as np

_SEGMENT = 1 << 20       # samples per channel in one segment of the file (4 MiB of float32)
_DTYPE = np.dtype(np.float32)


class _Storage:
    """The open temporary file and what was written to it: n samples on each of `channels`."""

    def __init__(self, channels: int):
        self.channels = channels
        self.n = 0
        self.offsets = np.zeros(channels, dtype=np.float32)   # subtracted on read
        self._file = tempfile.TemporaryFile(prefix="speechqa-", suffix=".f32")
        self.fd = self._file.fileno()
        weakref.finalize(self, self._file.close)

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def _position(self, channel: int, index: int) -> int:
        segment, within = divmod(index, _SEGMENT)
        return ((segment * self.channels + channel) * _SEGMENT + within) * _DTYPE.itemsize

    def write(self, rows: np.ndarray) -> None:
        """Append a (channels, frames) float32 block."""
        frames = rows.shape[1]
        for channel in range(self.channels):
            data = np.ascontiguousarray(rows[channel], dtype=_DTYPE)
            done = 0
            while done < frames:
                index = self.n + done
                k = min(frames - done, _SEGMENT - index % _SEGMENT)
                _write_all(self.fd, memoryview(data[done:done + k]).cast("B"), self._position(channel, index))
                done += k
        self.n += frames

    def read(self, channel: int, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) of one channel (clipped to what was written), offset removed."""
        start, stop = max(0, start), min(self.n, stop)
        out = np.empty(max(0, stop - start), dtype=_DTYPE)
        done = 0
        while done < out.size:
            index = start + done
            k = min(out.size - done, _SEGMENT - index % _SEGMENT)
            _read_all(self.fd, memoryview(out[done:done + k]).cast("B"), self._position(channel, index))
            done += k
        if self.offsets[channel]:
            out -= self.offsets[channel]
        return out


def _write_all(fd: int, data: memoryview, position: int) -> None:
    while len(data):
        written = os.pwrite(fd, data, position)
        data, position = data[written:], position + written


def _read_all(fd: int, out: memoryview, position: int) -> None:
    while len(out):
        if hasattr(os, "preadv"):   # straight into the array
            got = os.preadv(fd, [out], position)
        else:                       # systems without it (older macOS): through a bytes copy
            data = os.pread(fd, len(out), position)
            got = len(data)
            out[:got] = data
        if got <= 0:
            raise OSError(f"speechqa's temporary sample file ended early at byte {position}")
        out, position = out[got:], position + got


class SampleFileWriter:
    """Append (channels, frames) float32 blocks; `finish` gives the SampleFile."""

    def __init__(self, channels: int):
        self._storage = _Storage(channels)

    @property
    def frames(self) -> int:
        return self._storage.n

    def write(self, rows: np.ndarray) -> None:
        if rows.shape[1]:
            self._storage.write(rows)

    def finish(self, *, offsets=None) -> SampleFile:
        """The file written, each channel less its `offsets` entry when read (DC removal)."""
        if offsets is not None:
            self._storage.offsets[:] = np.asarray(offsets, dtype=np.float32)
        return SampleFile(self._storage, tuple((c,) for c in range(self._storage.channels)))

    def close(self) -> None:
        """Give the file up unfinished (a decoder error)."""
        self._storage.close()


class SampleFile:
    """Float32 (channels, n) samples in a temporary file; slices like that array (module docstring).

    Each channel of a SampleFile is the mean of one or more channels of its file (`mixed()`)."""

    ndim = 2
    dtype = _DTYPE

    def __init__(self, storage: _Storage, sources: tuple[tuple[int, ...], ...]):
        self._storage = storage
        self._sources = sources

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._sources), self._storage.n)

    def as_rows(self) -> SampleFile:
        """Itself: (channels, n) already, as ChannelReader.as_rows gives one channel."""
        return self

    @property
    def size(self) -> int:
        return len(self._sources) * self._storage.n

    def __len__(self) -> int:
        return len(self._sources)

    def read(self, channel: int, start: int, stop: int) -> np.ndarray:
        """float32 samples [start, stop) of one channel (clipped to the recording)."""
        if self._storage.closed:
            raise ValueError("the recording's sample file is closed; read the recording again")
        first, *others = self._sources[channel]
        out = self._storage.read(first, start, stop)
        for other in others:
            out += self._storage.read(other, start, stop)
        if others:   # as numpy's float32 mean: the sum in float32, then divided
            out /= np.float32(len(others) + 1)
        return out

    def mixed(self) -> SampleFile:
        """One channel, the mean of this file's channels (a dual-mono call measured as mono)."""
        return SampleFile(self._storage, (tuple(c for s in self._sources for c in s),))

    def close(self) -> None:
        """Free the temporary file now (else when the last SampleFile over it is collected)."""
        self._storage.close()

    def __getitem__(self, key):
        rows, columns = (key + (None,))[:2] if isinstance(key, tuple) else (key, None)
        if isinstance(key, tuple) and len(key) > 2:
            raise IndexError(f"a SampleFile is 2-D (channels, n); got {len(key)} indices")
        if isinstance(rows, (int, np.integer)):
            channel = _channel_index(int(rows), len(self._sources))
            if columns is None:
                return ChannelReader(self, channel)
            return self.read(channel, *_bounds(columns, self._storage.n))
        if isinstance(rows, slice):
            sources = self._sources[rows]
        else:
            sources = tuple(self._sources[_channel_index(int(r), len(self._sources))] for r in rows)
        view = SampleFile(self._storage, tuple(sources))
        if columns is None:
            return view
        start, stop = _bounds(columns, self._storage.n)
        return np.stack([view.read(c, start, stop) for c in range(len(view))]).reshape(len(view), -1)

    def __iter__(self):
        return (ChannelReader(self, c) for c in range(len(self._sources)))

    def __setitem__(self, key, value):
        raise ValueError("a recording's samples are read-only; copy them first: np.array(recording.samples)")

    def __array__(self, dtype=None, copy=None):
        whole = self[:, :]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"SampleFile(shape={self.shape}, float32)"


class ChannelReader:
    """One channel of a SampleFile; slices like a 1-D float32 array (`reader[a:b]` reads)."""

    ndim = 1
    dtype = _DTYPE

    def __init__(self, samples: SampleFile, channel: int):
        self._samples = samples
        self._channel = channel

    @property
    def shape(self) -> tuple[int]:
        return (self._samples.shape[1],)

    @property
    def size(self) -> int:
        return self._samples.shape[1]

    def __len__(self) -> int:
        return self._samples.shape[1]

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice):
            raise IndexError("a ChannelReader reads slices, reader[a:b]; index the block read")
        return self._samples.read(self._channel, *_bounds(key, len(self)))

    def as_rows(self) -> SampleFile:
        """This channel as a one-channel SampleFile, shape (1, n)."""
        return self._samples[[self._channel]]

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"ChannelReader(channel={self._channel}, n={len(self)}, float32)"


def is_sample_reader(signal) -> bool:
    """Whether `signal` is a SampleFile or ChannelReader: float32 and finite by construction
    (speechqa.audio makes NaN and inf 0), to be read by slicing rather than converted whole."""
    return isinstance(signal, (SampleFile, ChannelReader))


def _channel_index(index: int, channels: int) -> int:
    if not -channels <= index < channels:
        raise IndexError(f"channel {index} of a recording with {channels} channel(s)")
    return index % channels


def _bounds(key, n: int) -> tuple[int, int]:
    if not isinstance(key, slice):
        raise IndexError("a SampleFile reads slices of samples, [c, a:b] or [:, a:b]")
    start, stop, step = key.indices(n)
    if step != 1:
        raise IndexError("a SampleFile reads contiguous samples; read the block, then take every k-th")
    return start, max(start, stop)
