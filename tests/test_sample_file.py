"""The temporary sample file a recording is read back from (speechqa.sample_file)."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from speechqa import sample_file
from speechqa.audio import read_audio, read_two_legs
from speechqa.errors import SpeechQAError
from speechqa.sample_file import ChannelReader, SampleFile, SampleFileWriter


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(sample_file, "_SEGMENT", 1000)   # blocks cross segment edges


def written(rows: np.ndarray, *, block: int = 337, offsets=None) -> SampleFile:
    writer = SampleFileWriter(rows.shape[0])
    for a in range(0, rows.shape[1], block):
        writer.write(rows[:, a:a + block])
    return writer.finish(offsets=offsets)


def test_reads_back_what_was_written_across_segments(small_segments):
    rows = np.random.default_rng(0).standard_normal((2, 4321)).astype(np.float32)
    samples = written(rows)
    assert samples.shape == (2, 4321) and len(samples) == 2
    assert np.array_equal(np.asarray(samples), rows)
    assert np.array_equal(samples[1, 990:2010], rows[1, 990:2010])
    assert np.array_equal(samples[:, 3000:], rows[:, 3000:])
    assert np.array_equal(samples[0][-5:], rows[0, -5:])
    assert samples[0, 5000:6000].size == 0   # past the end: empty, as an array slices
    reader = samples[1]
    assert isinstance(reader, ChannelReader) and reader.shape == (4321,) and len(reader) == 4321
    assert np.array_equal(np.asarray(reader.as_rows())[0], rows[1])
    assert np.array_equal(np.asarray(samples[[1]]), rows[1:])


def test_offsets_are_removed_and_mixed_is_numpys_mean(small_segments):
    rows = np.random.default_rng(1).standard_normal((2, 2500)).astype(np.float32) + 0.25
    offsets = rows.mean(axis=1).astype(np.float32)
    samples = written(rows, offsets=offsets)
    centred = rows - offsets[:, None]
    assert np.array_equal(np.asarray(samples), centred)
    assert np.array_equal(np.asarray(samples.mixed()), centred.mean(axis=0, keepdims=True))


def test_read_only_and_closed():
    samples = written(np.zeros((1, 100), np.float32))
    with pytest.raises(ValueError, match="read-only"):
        samples[0, 0] = 1.0
    with pytest.raises(IndexError):
        samples[0, ::2]
    samples.close()
    with pytest.raises(ValueError, match="closed"):
        samples[0, :10]


def test_no_file_is_left_in_the_temporary_folder(tmp_path, write_wav, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # where TemporaryFile creates it
    path = write_wav(tmp_path / "call.wav", np.zeros((2, 8000), np.float32) + 0.1, 8000)
    before = set(os.listdir(tmp_path))
    with read_audio(path) as recording:
        assert set(os.listdir(tmp_path)) == before   # unlinked as soon as it was opened
        assert recording.samples.shape == (2, 8000)
    with pytest.raises(ValueError, match="closed"):
        recording.samples[0, :10]


def test_a_full_temporary_folder_is_said_so(tmp_path, write_wav, monkeypatch):
    path = write_wav(tmp_path / "call.wav", np.zeros((2, 8000), np.float32) + 0.1, 8000)

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sample_file.os, "pwrite", full)
    with pytest.raises(SpeechQAError, match="TMPDIR") as info:
        read_audio(path)
    assert info.value.error_type == "unreadable" and "No space left" in str(info.value)


def test_a_full_temporary_folder_is_said_so_for_two_legs(tmp_path, write_wav, monkeypatch):
    """The legs read, then the call's own sample file finds no room: the same one line, not a bug."""
    agent = write_wav(tmp_path / "agent.wav", np.zeros(8000, np.float32) + 0.1, 8000)
    caller = write_wav(tmp_path / "caller.wav", np.zeros(8000, np.float32) + 0.2, 8000)
    writes, pwrite = [], os.pwrite

    def full_after_the_legs(*args):
        writes.append(args[2])
        if len(writes) > 2:   # one write for each mono leg, then the two-channel file's
            raise OSError(28, "No space left on device")
        return pwrite(*args)

    monkeypatch.setattr(sample_file.os, "pwrite", full_after_the_legs)
    with pytest.raises(SpeechQAError, match="TMPDIR") as info:
        read_two_legs(agent, caller)
    assert info.value.error_type == "unreadable" and len(writes) == 3
