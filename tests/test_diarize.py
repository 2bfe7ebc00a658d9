"""Diarization of a mono call: the clustering on embeddings with known speakers (no model), and
on real voices mixed down to one channel (the stereo call's own channels are the truth)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from speechqa.diarize import CHECK_CHUNK_S, CHECK_SECOND_S, diarize, speech_windows, two_clusters, two_voice_share
from speechqa.options import DiarizeOptions
from speechqa.timeline import intersection, total_s

OPTIONS = DiarizeOptions()


def voices(turns: list[tuple[float, float, int]], *, spread: float = 0.3, seed: int = 3):
    """An `embed` for a call whose speaker k talks in [start, end): each window's embedding is
    its speaker's voice (by the window's middle) plus noise of `spread`."""
    rng = np.random.default_rng(seed)
    voice = rng.normal(size=(2, 192))

    def embed(windows: np.ndarray) -> np.ndarray:
        middles = windows.mean(axis=1)
        who = [next(k for s, e, k in turns if s <= m < e) for m in middles]
        vectors = voice[who] + spread * rng.normal(size=(len(windows), 192)) * np.linalg.norm(voice[0]) / np.sqrt(192)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return embed


def test_windows_cover_speech_and_skip_crumbs():
    windows = speech_windows(np.array([[0.0, 4.0], [5.0, 5.3], [6.0, 7.0]]), window_s=1.5, hop_s=0.75, min_s=0.5)
    np.testing.assert_allclose(windows, [[0, 1.5], [0.75, 2.25], [1.5, 3.0], [2.25, 3.75], [2.5, 4.0], [6.0, 7.0]])


def test_two_voices_are_split_at_their_turns():
    turns = [(0, 10, 0), (10, 18, 1), (18, 30, 0), (30, 45, 1)]
    speech = np.array([[0.2, 9.8], [10.1, 17.7], [18.3, 29.6], [30.2, 44.5]])
    found = diarize(speech, embed=voices(turns), options=OPTIONS, bridge_gap_s=0.25)
    assert found.speakers == 2 and found.confidence > 0.9
    first, second = found.speech                 # the first to speak is speaker 0
    truth = [np.array([[s, e] for s, e, k in turns if k == who], dtype=float) for who in (0, 1)]
    for got, want in zip((first, second), truth):
        assert total_s(intersection(got, want)) / total_s(got) > 0.97


def test_one_voice_is_one_speaker():
    speech = np.array([[0.0, 20.0], [21.0, 40.0]])
    found = diarize(speech, embed=voices([(0, 100, 0)]), options=OPTIONS, bridge_gap_s=0.25)
    assert found.speakers == 1 and found.confidence is None
    np.testing.assert_allclose(found.speech[0], speech)


def test_too_little_speech_is_not_split():
    found = diarize(np.array([[0.0, 1.2]]), embed=voices([(0, 100, 0), (100, 200, 1)]), options=OPTIONS, bridge_gap_s=0.25)
    assert found.speakers == 1 and found.windows == 1


def test_clustering_is_deterministic_and_bounded():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(1.0, 0.5, (2000, 16)), rng.normal(-1.0, 0.5, (1500, 16))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = two_clusters(vectors, pruning=0.05)
    assert np.array_equal(labels, two_clusters(vectors, pruning=0.05))
    assert len(set(labels[:2000])) == 1 and len(set(labels[2000:])) == 1 and labels[0] != labels[-1]


def test_options_are_checked():
    with pytest.raises(ValueError, match="hop_s"):
        DiarizeOptions(hop_s=2.0)
    with pytest.raises(ValueError, match="min_two_voice_share"):
        DiarizeOptions(min_two_voice_share=1.5)
    with pytest.raises(ValueError, match="check_chunks"):
        DiarizeOptions(check_chunks=0)


def hearing(second_s: float, asked: list):
    """A `hear` that hears a first voice for 3 s and a second for second_s in every chunk, and
    notes the chunks it was asked about."""
    def hear(starts: np.ndarray, chunk_s: float) -> np.ndarray:
        asked.extend(starts)
        assert chunk_s == CHECK_CHUNK_S
        return np.tile([3.0, second_s, 0.0], (len(starts), 1))
    return hear


# Two close voices: clusters whose centroids lie between one voice's split and two clear voices.
CLOSE_TURNS = [(0, 6, 0), (6, 9, 1), (9, 15, 0), (15, 18, 1), (18, 24, 0), (24, 27, 1), (27, 40, 0)]
CLOSE_SPEECH = np.array([[0.1, 5.9], [6.1, 8.9], [9.1, 14.9], [15.1, 17.9], [18.1, 23.9], [24.1, 26.9], [27.1, 39.5]])


def test_close_clusters_that_the_segmentation_hears_as_one_voice_are_one_speaker():
    close = dataclasses.replace(OPTIONS, check_similarity=-1.0)   # whatever the clusters' similarity
    asked = []
    found = diarize(CLOSE_SPEECH, embed=voices(CLOSE_TURNS), options=close, bridge_gap_s=0.25,
                    hear=hearing(CHECK_SECOND_S / 2, asked))
    assert found.speakers == 1 and found.two_voice_share == 0.0 and found.confidence is None
    np.testing.assert_allclose(found.speech[0], CLOSE_SPEECH)
    # Asked about chunks where both clusters speak: each holds a turn change.
    assert asked and all(any(start < change < start + CHECK_CHUNK_S for change in (6, 9, 15, 18, 24, 27)) for start in asked)
    asked.clear()
    found = diarize(CLOSE_SPEECH, embed=voices(CLOSE_TURNS), options=close, bridge_gap_s=0.25,
                    hear=hearing(2 * CHECK_SECOND_S, asked))
    assert found.speakers == 2 and found.two_voice_share == 1.0 and asked


def test_clearly_different_voices_are_not_checked():
    asked = []
    found = diarize(CLOSE_SPEECH, embed=voices(CLOSE_TURNS), options=OPTIONS, bridge_gap_s=0.25,
                    hear=hearing(0.0, asked))
    assert found.centroid_similarity < OPTIONS.check_similarity     # random voices: near orthogonal
    assert found.speakers == 2 and found.two_voice_share is None and not asked


def test_two_voice_share_weighs_chunks_by_the_lesser_speaker_and_caps_them():
    parts = [np.array([[0.0, 4.0], [10.0, 14.0], [20.0, 24.0]]), np.array([[4.0, 6.0], [14.0, 17.0], [24.0, 25.0]])]
    second = {}

    def hear(starts, chunk_s):
        return np.array([[3.0, second.get(float(s), 0.0), 0.0] for s in starts])

    # Candidates (each speaker >= 1 s in a 5 s chunk), with the lesser speaker's seconds: starts
    # 0 (1), 2.5 (1.5), 10 (1), 12.5 (1.5), 20 (1); 5, 7.5, 15 and 17.5 hold one speaker.
    second.update({12.5: 1.0, 15.0: 1.0})
    assert two_voice_share(parts, hear, chunks=16) == pytest.approx(1.5 / 6)
    asked = []
    two_voice_share(parts, lambda starts, c: asked.extend(starts) or hear(starts, c), chunks=2)
    assert asked == [0.0, 20.0]                                     # the first and last candidates
    assert two_voice_share([parts[0], np.array([[30.0, 30.5]])], hear, chunks=16) is None


# --- real voices: a stereo call mixed down to one channel ----------------------------------------

def _no_asr():
    import dataclasses

    from speechqa.config import default_config

    config = default_config()
    return dataclasses.replace(config, measure=dataclasses.replace(config.measure, asr=dataclasses.replace(
        config.measure.asr, enabled=False)))


def _mixed_down(path, tmp_path, write_wav):
    import soundfile as sf

    from speechqa.audio import read_audio

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return read_audio(write_wav(tmp_path / "mono.wav", data.mean(axis=1), rate))


@pytest.fixture(scope="module")
def lca49_both_ways(fixtures_dir, tmp_path_factory):
    import soundfile as sf

    from speechqa.audio import read_audio
    from speechqa.call import score_recording

    path = fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    mono_path = tmp_path_factory.mktemp("mono") / "lca49_mono.wav"
    sf.write(mono_path, data.mean(axis=1), rate, subtype="PCM_16")
    config = _no_asr()
    stereo = score_recording(read_audio(path), call_id="stereo", config=config)
    mono = score_recording(read_audio(mono_path), call_id="mono", config=config)
    return stereo, mono


@pytest.mark.slow
def test_a_real_call_mixed_to_mono_is_diarized_like_its_channels(lca49_both_ways):
    from speechqa.testing import diarization_error

    stereo, mono = lca49_both_ways
    m = mono.measurement
    assert m.diarized and m.mono and m.roles.method == "diarized" and m.quality.speakers == 2
    assert 0.5 < m.quality.diarization_confidence <= 1.0
    reference = [stereo.measurement.speech[p] for p in ("agent", "caller")]
    error = diarization_error(reference, [m.speech[p] for p in ("agent", "caller")], collar_s=0.25)
    assert error.confusion < 0.05 and error.der < 0.15, error      # the agent is the agent, too
    s, d = stereo.metrics, mono.metrics
    assert d["agent_talk_share"] == pytest.approx(s["agent_talk_share"], abs=0.05)
    assert np.sign(d["level_diff_db"]) == np.sign(s["level_diff_db"])
    assert d["level_diff_db"] == pytest.approx(s["level_diff_db"], abs=3.0)
    # The agent's replies (what reply_latency judges) come within 0.3 s of the stereo figure. The
    # caller's do not: half of them start while the agent still speaks (median -0.13 s in stereo),
    # and one channel cannot hold overlap, so each reads 0 or later (README, "Mono calls").
    assert d["agent_latency_median_s"] == pytest.approx(s["agent_latency_median_s"], abs=0.3)
    assert s["caller_latency_median_s"] < 0 <= d["caller_latency_median_s"]
    # What needs overlap cannot be measured in one channel: unmeasured, with the reason, never 0.
    assert d["overtalk_s"] is None and "cannot be told apart" in mono.assessment.derived.unmeasured["overtalk_s"]
    assert d["agent_interruptions"] is None
    decided = {v.id: v.verdict for v in mono.verdicts if v.verdict != "abstain"}
    assert decided and all(decided[i] == v.verdict for v in stereo.verdicts for i in [v.id] if i in decided), (
        decided, {v.id: v.verdict for v in stereo.verdicts})


def test_one_voice_is_not_split(fixtures_dir, tmp_path, write_wav):
    """Forty IVR prompts of one voice, end to end: one speaker, whole-call figures only."""
    import soundfile as sf
    import soxr

    from speechqa.call import score_recording
    from speechqa.audio import read_audio

    prompts = sorted((fixtures_dir / "asr" / "asterisk_ru").glob("*.wav"))
    if not prompts:
        pytest.skip("asr/asterisk_ru is absent")
    parts = []
    for path in prompts:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
        parts += [soxr.resample(x.mean(axis=1), rate, 8000), np.zeros(5600, np.float32)]
    result = score_recording(read_audio(write_wav(tmp_path / "ivr.wav", np.concatenate(parts), 8000)),
                             call_id="ivr", config=_no_asr())
    m = result.measurement
    assert m.quality.speakers == 1 and not m.diarized and m.roles.method == "mono" and "one speaker" in m.roles.evidence
    assert result.metrics["agent_talk_s"] is None and result.metrics["speech_s"] > 60


@pytest.mark.slow
@pytest.mark.parametrize("recording", ["lca49 caller leg", "formats/bad_header_length.wav"])
def test_one_voice_that_the_embeddings_split_is_one_speaker(recording, fixtures_dir, tmp_path, write_wav):
    """A noisy phone voice alone (lca49's caller leg, 4 min) and a short clean one (18 s): CAM++'s
    clusters lie as far apart as two real voices' (centroids at 0.72 and 0.80; lca49 mixed 0.75),
    and the segmentation network hears one voice where both clusters speak."""
    import soundfile as sf

    from speechqa.audio import read_audio
    from speechqa.call import score_recording

    path = fixtures_dir / ("calls/lca49_agent-left_caller-right_8k.wav" if recording.startswith("lca49") else recording)
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    voice = data[:, 1] if recording.startswith("lca49") else data.mean(axis=1)
    m = score_recording(read_audio(write_wav(tmp_path / "one.wav", voice, rate)), call_id="one", config=_no_asr()).measurement
    assert m.quality.speakers == 1 and not m.diarized and "one speaker" in m.roles.evidence


def test_a_single_prompt_and_a_single_word_are_one_speaker(fixtures_dir, tmp_path, write_wav):
    from speechqa.call import score_recording

    prompt = fixtures_dir / "asr" / "asterisk_ru" / "all-circuits-busy-now.wav"
    if not prompt.is_file():
        pytest.skip(f"{prompt} is absent")
    from speechqa.audio import read_audio

    m = score_recording(read_audio(prompt), call_id="p", config=_no_asr()).measurement
    assert m.quality.speakers == 1 and not m.diarized


def test_mono_bad_input_gives_a_clear_result(fixtures_dir, tmp_path, write_wav):
    """Silence is no_speech; one spoken word is one speaker, whole-call figures, no crash."""
    import soundfile as sf

    from speechqa.audio import read_audio
    from speechqa.call import score_recording
    from speechqa.errors import SpeechQAError

    rng = np.random.default_rng(1)
    hiss = (0.001 * rng.standard_normal(8000 * 20)).astype(np.float32)
    with pytest.raises(SpeechQAError) as info:
        score_recording(read_audio(write_wav(tmp_path / "hiss.wav", hiss, 8000)), call_id="s", config=_no_asr())
    assert info.value.error_type == "no_speech"
    count = fixtures_dir / "pauses" / "count.wav"
    if not count.is_file():
        pytest.skip(f"{count} is absent")
    audio, rate = sf.read(count, dtype="float32")
    one_word = audio[: int(1.2 * rate)]   # "one"
    result = score_recording(read_audio(write_wav(tmp_path / "one.wav", one_word, rate)), call_id="w", config=_no_asr())
    assert result.measurement.quality.speakers == 1 and not result.measurement.diarized
    assert result.score.total is None   # too little could be measured to score it


def _changes(found) -> np.ndarray:
    """The times where speech changes speaker (both speakers' interval edges that meet)."""
    first, second = found.speech
    return np.sort(np.concatenate([np.intersect1d(first[:, 1].round(2), second[:, 0].round(2)),
                                   np.intersect1d(second[:, 1].round(2), first[:, 0].round(2))]))


def test_a_change_inside_unbroken_speech_is_placed_by_short_windows():
    """Quick replies without a pause: the 1.5 s clustering windows place each change only to within
    about half a window; short windows around it place it to within their spacing."""
    true_changes = [7.3, 15.65, 22.1]
    turns = [(0, 7.3, 0), (7.3, 15.65, 1), (15.65, 22.1, 0), (22.1, 31, 1)]
    speech = np.array([[0.0, 30.0]])
    coarse = diarize(speech, embed=voices(turns, spread=0.1), options=dataclasses.replace(OPTIONS, refine_reach_s=0.0),
                     bridge_gap_s=0.25)
    refined = diarize(speech, embed=voices(turns, spread=0.1), options=OPTIONS, bridge_gap_s=0.25)
    coarse_error, refined_error = (np.abs(_changes(f) - true_changes).max() for f in (coarse, refined))
    assert refined_error <= OPTIONS.refine_step_s / 2 + 0.05 < coarse_error, (_changes(coarse), _changes(refined))
