"""Diarization of mono calls against truth: `python -m benchmarks.bench_diarize`.

- Each two-party stereo recording mixed down to one channel (the mean of its channels): the
  stereo call's own per-channel speech timelines are the reference, and its roles the roles to
  find. DER with no collar and with a 0.25 s collar, speaker confusion, and whether the agent was
  found; then the diarized call's metrics beside the stereo call's (talk share, level difference,
  reply latency, the criteria decided).
- pyannote's phone sample (a real two-party phone call, mono) against its RTTM.
- One voice alone: each channel of the two-party stereo recordings, and an 18 s clean voice
  (`formats/bad_header_length.wav`): one speaker, not two (embeddings alone split three of them).
  Then lca49's caller leg alone and lca49 mixed under phone-band noise at 30, 20 and 10 dB SNR
  (as the validity suite adds it, seeded): one speaker and two.
- One voice for a long time (the 50 FDA sentences of one speaker through a phone line, repeated
  to --one-voice-minutes, 30 by default): one speaker, not two, and what it costs.
- The real-time factor of diarization (embeddings and clustering) on one core.

Speech recognition is off: the words would change the roles only where the first speaker is not
the agent, and cost minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
STEREO = [FIXTURES / "calls" / "lca49_agent-left_caller-right_8k.wav", ROOT / "samples" / "call_en_stereo.wav",
          FIXTURES / "calls" / "fw_stereo_diarization.wav"]
HEARD_ALONE_MIN_S = 1.5   # a voice heard alone for less than one embedding window cannot be told apart
COMPARED = ("agent_talk_share", "level_diff_db", "agent_latency_median_s", "caller_latency_median_s",
            "agent_f0_median_hz", "caller_f0_median_hz", "agent_pauses_per_min", "silence_max_s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one-voice-minutes", type=float, default=30.0, help="length of the one-voice call (0: skip)")
    args = parser.parse_args(argv)
    from speechqa.call import score_recording
    from speechqa.audio import read_audio
    from speechqa.config import default_config
    from speechqa.testing import diarization_error, read_rttm
    from speechqa.timeline import subtract, total_s

    base = default_config()
    config = dataclasses.replace(base, measure=dataclasses.replace(
        base.measure, asr=dataclasses.replace(base.measure.asr, enabled=False)))
    status = 0
    for path in STEREO:
        if not path.is_file():
            print(f"skipped: {path} not found")
            continue
        stereo = score_recording(read_audio(path), call_id="stereo", config=config)
        with tempfile.TemporaryDirectory() as tmp:
            mono_path = Path(tmp) / "mono.wav"
            data, rate = sf.read(path, dtype="float32", always_2d=True)
            sf.write(mono_path, data.mean(axis=1), rate, subtype="PCM_16")
            stages: dict[str, float] = {}
            mono = score_recording(read_audio(mono_path), call_id="mono", config=config,
                                   hook=lambda name, s: stages.__setitem__(name, stages.get(name, 0.0) + s))
        m = mono.measurement
        reference = [stereo.measurement.speech[p] for p in ("agent", "caller")]
        duration = m.duration_s
        print(f"{path.name} mixed to mono, {duration:.1f} s: {m.roles.method}, speakers {m.quality.speakers}, "
              f"confidence {_fmt(m.quality.diarization_confidence)}, diarize {stages.get('diarize', 0):.2f} s "
              f"(RTF {stages.get('diarize', 0) / duration:.4f})")
        alone = [total_s(subtract(reference[i], reference[1 - i])) for i in (0, 1)]
        print(f"  each voice heard alone (stereo VAD): agent {alone[0]:.1f} s, caller {alone[1]:.1f} s")
        if not m.diarized:
            # Speech of both at once cannot be attributed in one channel: a voice never heard
            # alone for one embedding window is one speaker's, as it must be here.
            expected = min(alone) < HEARD_ALONE_MIN_S
            print(f"  NOT split into two speakers ({'expected: one voice is never heard alone' if expected else 'WRONG'})")
            status |= not expected
            continue
        hypothesis = [m.speech[p] for p in ("agent", "caller")]
        for collar in (0.0, 0.25):
            e = diarization_error(reference, hypothesis, collar_s=collar)
            print(f"  collar {collar:.2f} s: DER {e.der:.3f} (missed {e.missed:.3f}, false alarm {e.false_alarm:.3f}, "
                  f"confusion {e.confusion:.3f})")
        roles_right = diarization_error(reference, hypothesis).confusion < 0.5 and \
            _overlap(reference[0], hypothesis[0]) > _overlap(reference[0], hypothesis[1])
        print(f"  roles: agent found {'right' if roles_right else 'WRONG'} ({m.roles.evidence})")
        for name in COMPARED:
            print(f"  {name:<26} stereo {_fmt(stereo.metrics[name]):>8}  mono {_fmt(mono.metrics[name]):>8}")
        same = [v.id for v, w in zip(stereo.verdicts, mono.verdicts) if v.verdict == w.verdict]
        print(f"  criteria with the same verdict: {len(same)} of {len(stereo.verdicts)}; differing: "
              f"{[(v.id, v.verdict, w.verdict) for v, w in zip(stereo.verdicts, mono.verdicts) if v.verdict != w.verdict]}")

    sample = FIXTURES / "calls" / "pyannote_phone_sample.wav"
    if sample.is_file():
        stages = {}
        result = score_recording(read_audio(sample), call_id="sample", config=config,
                                 hook=lambda name, s: stages.__setitem__(name, stages.get(name, 0.0) + s))
        m = result.measurement
        reference = read_rttm(sample.with_suffix(".rttm"))
        hypothesis = [m.speech[p] for p in ("agent", "caller")] if m.diarized else [m.speech["call"]]
        print(f"{sample.name}, {m.duration_s:.1f} s: speakers {m.quality.speakers}, confidence "
              f"{_fmt(m.quality.diarization_confidence)}, diarize {stages.get('diarize', 0):.2f} s")
        for collar in (0.0, 0.25):
            e = diarization_error(reference, hypothesis, collar_s=collar)
            print(f"  collar {collar:.2f} s: DER {e.der:.3f} (missed {e.missed:.3f}, false alarm {e.false_alarm:.3f}, "
                  f"confusion {e.confusion:.3f})")
    status |= _voices_alone(config)
    _under_noise(config)
    if args.one_voice_minutes > 0:
        status |= _one_voice(args.one_voice_minutes, config)
    return status


def _voices_alone(config) -> int:
    from speechqa.audio import read_audio
    from speechqa.call import score_recording

    voices = [(path, k) for path in STEREO[:2] for k in (0, 1)] + [(FIXTURES / "formats" / "bad_header_length.wav", None)]
    status = 0
    for path, channel in voices:
        if not path.is_file():
            print(f"skipped: {path} not found")
            continue
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        with tempfile.TemporaryDirectory() as tmp:
            alone = Path(tmp) / "alone.wav"
            sf.write(alone, data.mean(axis=1) if channel is None else data[:, channel], rate, subtype="PCM_16")
            stages: dict[str, float] = {}
            m = score_recording(read_audio(alone), call_id="alone", config=config,
                                hook=lambda name, s: stages.__setitem__(name, stages.get(name, 0.0) + s)).measurement
        ok = m.quality.speakers == 1 and not m.diarized
        status |= not ok
        which = "" if channel is None else f", {('left', 'right')[channel]} channel alone"
        print(f"{path.name}{which}, {m.duration_s:.1f} s: speakers {m.quality.speakers} ({'right' if ok else 'WRONG'}), "
              f"diarize {stages.get('diarize', 0):.2f} s")
    return status


def _under_noise(config) -> None:
    from benchmarks.validity.perturb import add_noise
    from speechqa.audio import read_audio
    from speechqa.call import score_recording
    from speechqa.features.loudness import active_speech_level

    path = STEREO[0]
    if not path.is_file():
        print(f"skipped: {path} not found")
        return
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    for name, signal, speakers in (("caller leg alone", data[:, 1], 1), ("mixed", data.mean(axis=1), 2)):
        level = active_speech_level(signal, rate).level_dbfs
        for snr in (30, 20, 10):
            noisy = add_noise(signal[np.newaxis], rate, [level], snr, np.random.default_rng(snr))[0]
            with tempfile.TemporaryDirectory() as tmp:
                noisy_path = Path(tmp) / "noisy.wav"
                sf.write(noisy_path, noisy.astype(np.float32), rate, subtype="PCM_16")
                m = score_recording(read_audio(noisy_path), call_id="noisy", config=config).measurement
            verdict = "right" if m.quality.speakers == speakers else "WRONG"
            print(f"{path.name}, {name}, phone-band noise at {snr} dB SNR: speakers {m.quality.speakers} ({verdict})")


def _one_voice(minutes: float, config) -> int:
    import soxr

    from speechqa.audio import read_audio
    from speechqa.call import score_recording
    from speechqa.testing import phone_channel

    sentences = sorted((FIXTURES / "pitch" / "fda_rl").glob("rl0*.wav"))
    if not sentences:
        print("skipped: the FDA sentences are absent")
        return 0
    parts = []
    for path in sentences:
        x, rate = sf.read(path, dtype="float32")
        parts += [soxr.resample(x, rate, 16000), np.zeros(11200, np.float32)]
    once = phone_channel(np.concatenate(parts), 16000)
    signal = np.tile(once, int(np.ceil(minutes * 60 * 8000 / len(once))))[: int(minutes * 60 * 8000)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one_voice.wav"
        sf.write(path, signal, 8000, subtype="PCM_16")
        stages: dict[str, float] = {}
        start = time.perf_counter()
        result = score_recording(read_audio(path), call_id="one", config=config,
                                 hook=lambda name, s: stages.__setitem__(name, stages.get(name, 0.0) + s))
        seconds = time.perf_counter() - start
    m = result.measurement
    ok = m.quality.speakers == 1 and not m.diarized
    print(f"one voice, {minutes:g} min: speakers {m.quality.speakers} ({'right' if ok else 'WRONG'}), "
          f"diarize {stages.get('diarize', 0):.1f} s (RTF {stages.get('diarize', 0) / m.duration_s:.4f}), whole call {seconds:.1f} s")
    return 0 if ok else 1


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    from speechqa.timeline import intersection, total_s

    return total_s(intersection(a, b))


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    raise SystemExit(main())
