"""What speechqa.whisper relies on in faster-whisper and CTranslate2, pinned without model weights
(as faster-whisper's own tests/test_transcribe.py pins its transcribe signatures with inspect).

speechqa drives Whisper below faster-whisper's public `transcribe`, so a release that renames a
parameter, reorders one passed by position, or drops an attribute would break it quietly or at
the first call. These tests fail first; pyproject.toml pins faster-whisper to the minor series
they passed against. When one fails after an upgrade, mend speechqa/whisper.py, then this table."""

import ast
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
faster_whisper = pytest.importorskip("faster_whisper")

from faster_whisper import WhisperModel  # noqa: E402
from faster_whisper.feature_extractor import FeatureExtractor  # noqa: E402
from faster_whisper.tokenizer import Tokenizer  # noqa: E402
from faster_whisper.transcribe import get_compression_ratio, get_ctranslate2_storage, get_suppressed_tokens  # noqa: E402

from speechqa import whisper  # noqa: E402
from speechqa.packing import ASR_RATE_HZ  # noqa: E402

SPEECHQA = Path(__file__).resolve().parents[1] / "speechqa"

# What speechqa.whisper calls: (callable, parameters it passes by position in this order,
# parameters it passes by keyword). `self` is left out.
PYTHON_CALLS = {
    "WhisperModel()": (WhisperModel.__init__, ["model_size_or_path"], ["device", "compute_type", "cpu_threads"]),
    "WhisperModel.encode": (WhisperModel.encode, ["features"], []),
    "WhisperModel.get_prompt": (WhisperModel.get_prompt, ["tokenizer", "previous_tokens"], ["without_timestamps"]),
    "WhisperModel.add_word_timestamps": (
        WhisperModel.add_word_timestamps,
        ["segments", "tokenizer", "encoder_output", "num_frames", "prepend_punctuations", "append_punctuations", "last_speech_timestamp"],
        [],
    ),
    "FeatureExtractor()": (FeatureExtractor.__call__, ["waveform"], []),
    "Tokenizer()": (Tokenizer.__init__, ["tokenizer", "multilingual"], ["task", "language"]),
    "Tokenizer.decode": (Tokenizer.decode, ["tokens"], []),
    "get_ctranslate2_storage": (get_ctranslate2_storage, ["segment"], []),
    "get_compression_ratio": (get_compression_ratio, ["text"], []),
    "get_suppressed_tokens": (get_suppressed_tokens, ["tokenizer", "suppress_tokens"], []),
}

# CTranslate2's Whisper methods are compiled (pybind11): inspect cannot read them, their
# docstring's first line is their signature. align is called by add_word_timestamps with our
# list of frame counts, one a window.
CTRANSLATE2_CALLS = {
    "generate": (["features", "prompts"], ["beam_size", "max_length", "suppress_blank", "suppress_tokens", "return_scores", "return_no_speech_prob"]),
    "detect_language": (["features"], []),
    "align": (["features", "start_sequence", "text_tokens", "num_frames"], []),
}

# Attributes WhisperModel.__init__ sets that speechqa.whisper reads.
WHISPER_MODEL_ATTRIBUTES = {"model", "hf_tokenizer", "feature_extractor", "frames_per_second", "max_length"}


@pytest.mark.parametrize("name", PYTHON_CALLS)
def test_faster_whisper_signatures(name):
    function, positional, keywords = PYTHON_CALLS[name]
    parameters = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    assert [p.name for p in parameters[: len(positional)] if p.kind in positional_kinds] == positional
    by_name = {p.name: p.kind for p in parameters}
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    assert {k: by_name.get(k) in keyword_kinds for k in keywords} == dict.fromkeys(keywords, True)


def _compiled_signature(method) -> tuple[list[str], set[str]]:
    """(positional parameter names in order, keyword-only names) from a pybind11 docstring's
    first line, e.g. `generate(self: Whisper, features: StorageView, prompts: ..., *, beam_size: int = 5)`."""
    line = method.__doc__.splitlines()[0]
    inner = line[line.index("(") + 1: line.rindex(")")]
    names, depth, current = [], 0, ""
    for char in inner + ",":
        depth += (char in "[(") - (char in "])")
        if char == "," and depth == 0:
            names.append(current.split(":")[0].split("=")[0].strip())
            current = ""
        else:
            current += char
    star = names.index("*") if "*" in names else len(names)
    return [n for n in names[:star] if n != "self"], set(names[star + 1:])


@pytest.mark.parametrize("name", CTRANSLATE2_CALLS)
def test_ctranslate2_whisper_signatures(name):
    positional, keywords = CTRANSLATE2_CALLS[name]
    found_positional, found_keywords = _compiled_signature(getattr(ctranslate2.models.Whisper, name))
    assert found_positional[: len(positional)] == positional
    assert set(keywords) <= found_keywords | set(found_positional)


def test_align_takes_a_frame_count_for_each_window():
    line = ctranslate2.models.Whisper.align.__doc__.splitlines()[0]
    assert re.search(r"num_frames: Union\[int, list\[int\]\]", line), line


def test_ctranslate2_results_and_properties():
    assert isinstance(ctranslate2.models.Whisper.is_multilingual, property)
    assert {"sequences_ids", "scores", "no_speech_prob"} <= set(dir(ctranslate2.models.WhisperGenerationResult))
    encoded = np.arange(24, dtype=np.float32).reshape(1, 4, 6)
    assert np.array_equal(np.asarray(get_ctranslate2_storage(encoded)), encoded)   # encoder output back as an array


def test_whisper_model_sets_the_attributes_read():
    tree = ast.parse(textwrap.dedent(inspect.getsource(WhisperModel.__init__)))
    assigned = {
        target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign) for target in node.targets
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    }
    assert WHISPER_MODEL_ATTRIBUTES <= assigned


def test_feature_extractor_window():
    extractor = FeatureExtractor()
    assert (extractor.n_samples, extractor.nb_max_frames, extractor.sampling_rate) == (30 * ASR_RATE_HZ, 3000, ASR_RATE_HZ)


class FakeHfTokenizer:
    """A tokenizers.Tokenizer's two methods that faster-whisper's Tokenizer calls here."""

    ids = {"<|endoftext|>": 50257, "<|startoftranscript|>": 50258, "<|ru|>": 50263, "<|transcribe|>": 50359,
           "<|notimestamps|>": 50363}

    def token_to_id(self, token):
        return self.ids.get(token, 50000)

    def decode(self, tokens):
        return " ".join(map(str, tokens))


def test_tokenizer_decodes_text_tokens_only():
    tokenizer = Tokenizer(FakeHfTokenizer(), True, task="transcribe", language="ru")
    assert tokenizer.decode([1, 2, tokenizer.eot]) == "1 2"
    prompt = WhisperModel.get_prompt(type("Model", (), {"max_length": 448})(), tokenizer, [], without_timestamps=True)
    assert prompt == [50258, 50263, 50359, 50363]   # start, language, task, no timestamps


def test_word_timestamps_read_and_write_the_segment_dicts():
    """add_word_timestamps reads each segment's tokens, start, end and seek, hands our frame
    counts on to the alignment, and writes words with word, start, end and probability."""
    seen = {}

    class Model:
        frames_per_second = 100

        def find_alignment(self, tokenizer, text_tokens, encoder_output, num_frames):
            seen.update(text_tokens=text_tokens, num_frames=num_frames)
            return [[dict(word=" да", tokens=[7], start=0.5, end=0.8, probability=0.9)]]

    segments = [[dict(tokens=[7, 50257], start=0.0, end=4.0, seek=300)]]
    tokenizer = type("Tokenizer", (), {"eot": 50257})()
    WhisperModel.add_word_timestamps(Model(), segments, tokenizer, None, [400], whisper.PREPEND_PUNCTUATIONS, whisper.APPEND_PUNCTUATIONS, 0.0)
    assert seen == {"text_tokens": [[7]], "num_frames": [400]}
    assert segments[0][0]["words"] == [dict(word=" да", start=3.5, end=3.8, probability=0.9)]


def test_alignment_hands_the_frame_counts_to_ctranslate2():
    calls = []
    model = type("Model", (), {"model": type("Ct2", (), {"align": lambda self, *a, **k: calls.append(a) or []})()})()
    tokenizer = type("Tokenizer", (), {"sot_sequence": [50258]})()
    WhisperModel.find_alignment(model, tokenizer, [[7]], "encoded", [400, 300])
    assert calls == [("encoded", [50258], [[7]], [400, 300])]


def test_suppressed_tokens_from_minus_one():
    names = ("transcribe", "translate", "sot", "sot_prev", "sot_lm", "no_speech")
    tokenizer = type("Tokenizer", (), {"non_speech_tokens": (1, 2), **{n: 100 + i for i, n in enumerate(names)}})()
    assert get_suppressed_tokens(tokenizer, [-1]) == (1, 2, 100, 101, 102, 103, 104, 105)
    assert get_compression_ratio("да " * 50) > 2.4 > get_compression_ratio("Добрый день, чем могу помочь?")


class FeatureRecorder:
    """Stands in for the Whisper model: faster-whisper's real feature extractor, an encoder
    that hands back what it was given."""

    def __init__(self):
        self.feature_extractor = FeatureExtractor()

    def encode(self, features):
        return features[None]


def test_a_short_window_is_padded_with_silence_not_with_zero_log_mel():
    # Zeros in Whisper's normalised log-mel read as moderate noise; silent audio reads as the
    # floor, which is what the model saw in training after every short clip.
    t = np.arange(4 * ASR_RATE_HZ) / ASR_RATE_HZ
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    (features,) = whisper.encode([tone], model=FeatureRecorder())
    assert features.shape == (80, 3000)
    padding = features[:, 410:]                 # 4 s of audio is 400 frames of 10 ms
    assert np.allclose(padding, features.min())
    assert features.min() < -0.5 and not np.any(padding == 0.0)


def test_only_the_adapter_imports_faster_whisper():
    importing = set()
    for path in SPEECHQA.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("faster_whisper", "ctranslate2") for n in names):
                importing.add(path.relative_to(SPEECHQA).as_posix())
    assert importing == {"whisper.py"}


def test_importing_asr_loads_neither():
    code = "import sys, speechqa.asr; print(sorted({'faster_whisper', 'ctranslate2'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
