"""Shared test fixtures for audio files: the real-speech folder and a WAV writer."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures (relative to the project root); the test skips when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    if not path.is_dir():
        pytest.skip(f"real-speech fixtures not found at {path} (the ../shared checkout is absent)")
    return path


@pytest.fixture
def write_wav():
    """write_wav(path, data, sr, subtype="PCM_16"): data is (channels, n) or (n,), as in Recording."""

    def write(path, data, sr: int, subtype: str = "PCM_16") -> Path:
        data = np.asarray(data, dtype=np.float32)
        sf.write(path, data.T if data.ndim == 2 else data, sr, subtype=subtype, format="WAV")
        return Path(path)

    return write
