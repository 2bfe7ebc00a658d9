"""Benchmark the VAD (speechqa.features.vad) on telephone audio, at VAD rates 8 and 16 kHz.

    python -m benchmarks.bench_vad [--fixtures ../shared/fixtures] [--repeat 3] [--no-ladder]

What it measures, per VAD rate, with the default VadOptions otherwise:
- speed: wall seconds per second of audio for both channels of lca49 (237.6 s, 8 kHz stereo,
  one thread; the best of --repeat runs, resampling included);
- lca49 sanity: talk time per channel, and the share of each channel's clearly voiced frames
  (periodic at 80-400 Hz and 25 dB above the channel's floor: no hand labels exist for this
  call) that the VAD calls speech; each channel's noise floor as the VAD reports it (the one
  the energy gate and the SNR use);
- lca49 muted legs: each channel zeroed except its own speech (as the VAD finds it) and 0.1 s
  on either side, as recorders that zero a muted leg leave it; the share of the unmuted
  channel's speech still found. The gate must not cut quiet speech there: digital silence
  fills these channels' quietest tenth, so they have no floor and no gate;
- count.wav: boundary F1 against the hand-marked words (a boundary is a hit within 50 ms of a
  reference boundary, one-to-one), clean at 16 kHz and through a phone channel (8 kHz,
  300-3400 Hz 4th-order Butterworth, 8-bit mu-law), and the largest boundary error;
- FDA (50 sentences, 20 kHz, through the same phone channel): recall = share of laryngograph-
  voiced frames called speech; false alarms = share of the leading/trailing silence called
  speech, where silence lies outside the first-to-last sound (voiced, or 20 dB above the clean
  wideband recording's floor, so that final /s/, /ks/ count as sound) with 0.1 s of slack;
- the noise ladder (issue 13; --no-ladder leaves it out): lca49 with phone-band noise at 40 to
  10 dB under each channel's P.56 speech level, as the validity suite adds it
  (`benchmarks.validity.perturb.add_noise`, seed 49): each party's talk time bridged as the
  timeline bridges it, against clean, with the defaults and with a fixed 6 dB gate and no
  cleaning (`energy_margin_min_db = 6`, `noise_reduction_db = 0`: the VAD before the ladder).

Measured on the development machine (2 CPU cores shared with other work, the network in numpy
since 2026-12-01; 8 kHz at thresholds 0.5 / 0.35, 16 kHz at the defaults 0.3 / 0.2; speed and
lca49 unchanged by the steady-noise handling of 2026-12-04, as lca49's floors are not steady):

    vad rate                         8 kHz    16 kHz
    lca49 s per s of audio          0.0018    0.0030   (both channels, 1 thread, best of 3;
                                                         onnxruntime step by step: 0.0045 / 0.0067)
    lca49 talk agent (s)             135.7     137.0
    lca49 talk caller (s)             68.3      92.0
    lca49 voiced found agent         0.999     1.000
    lca49 voiced found caller        0.735     0.928
    lca49 floor agent (dBFS)         -68.6     -68.6
    lca49 floor caller (dBFS)        -82.5     -82.5
    lca49 muted: kept agent          0.986     0.999
    lca49 muted: kept caller         0.904     0.998
    count F1 clean                    1.00      1.00
    count F1 phone                    1.00      1.00
    count max error clean (s)        0.040     0.040
    count max error phone (s)        0.048     0.048
    fda recall (phone)               0.993     0.991   (0.992 / 0.990 with the fixed gate and no
    fda false alarms (phone)         0.004     0.005    cleaning: 29 of the 50 have a steady floor)

16 kHz is the default: the 8 kHz path misses whole utterances of lca49's caller.

The noise ladder (2026-12-04; talk time agent / caller against clean, %; the VAD's seconds per
second of audio, one run):

    SNR      16 kHz defaults      fixed 6 dB gate,     8 kHz defaults     8 kHz fixed gate,
                                  no cleaning                             no cleaning
    clean    140.3 / 93.8 s       140.3 / 93.8 s       138.7 / 70.1 s     138.7 / 70.1 s
    40 dB    -2.8 / -2.7  .0036   -3.1 / -13.9  .0020  -3.2 / -13.2       -2.8 / -9.4
    30 dB    -3.8 / -2.9  .0037   -7.1 / -18.2  .0020  -3.1 / +1.7        -6.9 / -11.9
    20 dB    -7.9 / -6.9  .0034   -16.4 / -34.3 .0020  -6.7 / -4.4        -16.5 / -16.5
    15 dB    -12.1 / -12.5        -22.8 / -41.5        -11.6 / -13.8      -22.9 / -24.7
    10 dB    -18.8 / -27.0        -39.1 / -52.7        -18.2 / -22.0      -39.1 / -44.9

What each half does (16 kHz, 30 / 20 dB): the gate alone (no cleaning) -3.8 / -16.0 and
-7.6 / -29.0 %; the cleaning alone (gate fixed at 6 dB) -7.2 / -6.3 and -16.4 / -15.5 %: the
agent's loss was the gate's, the caller's the network's. Lower Silero thresholds instead
(0.2 / 0.1, no cleaning, the new gate) left the caller -14.8 % at 30 dB and moved clean talk
time (caller 93.8 -> 98.4 s). At 8 kHz the caller's clean talk is 25 % short already and
erratic under noise (-13.2 % at 40 dB, +1.7 % at 30): 16 kHz stays the default.

The SNR's noise floor was once computed apart from the gate's: 20 ms frames at the signal's own
rate, digital silence left out. On the muted legs it reads 10-34 dB above the line's floor (agent
-58.7 instead of -68.7 dBFS; caller -59.6 / -48.6 instead of -82.5, the leg left open around the
16 / 8 kHz VAD's speech), and the SNR falls by as much. A gate on such a floor (the VAD's frames, digital silence left
out) keeps 0.952 / 0.957 of the speech at 16 kHz and 0.934 / 0.842 at 8 kHz. Elsewhere the two
definitions agree within 0.3 dB (count.wav clean: 1.2 dB, its floor varies; see
speechqa.features.noise_floor).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from speechqa.features.loudness import active_speech_level
from speechqa.features.vad import VadOptions, detect_speech, detect_speech_with_floor, load_vad_model
from speechqa.testing import boundary_f1, laryngograph_scores, phone_channel
from benchmarks.validity.suite import SEED as LADDER_SEED   # the validity suite's noise
from speechqa.config import MeasureConfig
from speechqa.timeline import bridge_gaps, total_s

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
TOLERANCE_S = 0.05
LADDER_SNR_DB = (40, 30, 20, 15, 10)
# Before the noise ladder (issue 13's finding): a fixed 6 dB margin, nothing cleaned.
FIXED_GATE = {"energy_margin_min_db": 6.0, "noise_reduction_db": 0.0}


def covered(times_s: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(times_s), dtype=bool)
    for start, end in intervals:
        inside |= (times_s >= start) & (times_s < end)
    return inside


def clearly_voiced(x: np.ndarray, sample_rate_hz: int, frame: int = 256) -> np.ndarray:
    """Frames (32 ms at 8 kHz) that are periodic at 80-400 Hz and 25 dB above the floor."""
    n = len(x) // frame
    frames = x[: n * frame].reshape(n, frame).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    energy = np.mean(frames**2, axis=1)
    level = 10 * np.log10(energy + 1e-12)
    spectrum = np.fft.rfft(frames, 2 * frame, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    ac /= np.maximum(ac[:, :1], 1e-20)
    periodic = ac[:, sample_rate_hz // 400 : sample_rate_hz // 80].max(axis=1) > 0.6
    return periodic & (energy > 1e-8) & (level > np.percentile(level, 10) + 25)


def bench_call(path: Path, model, options: VadOptions, repeat: int) -> dict:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x.T)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        found = detect_speech_with_floor(x, sr, model=model, options=options)
        best = min(best, time.perf_counter() - start)
    out = {"rtf": best / (x.shape[1] / sr)}
    for channel, channel_speech in enumerate(found):
        intervals = channel_speech.intervals_s
        voiced = clearly_voiced(x[channel], sr)
        t = (np.arange(len(voiced)) + 0.5) * 256 / sr
        out[f"talk{channel}"] = total_s(intervals)
        out[f"voiced{channel}"] = float(covered(t, intervals)[voiced].mean())
        floor = channel_speech.noise_floor_dbfs
        out[f"floor{channel}"] = np.nan if floor is None else floor
        out[f"muted{channel}"] = muted_leg_kept(x[channel], sr, intervals, model, options)
    return out


def muted_leg_kept(x: np.ndarray, sr: int, speech: np.ndarray, model, options: VadOptions,
                   open_s: float = 0.1) -> float:
    """Share of `speech` still found once everything but it (and open_s around it) is zeroed."""
    keep = np.zeros(len(x), dtype=bool)
    for start, end in speech:
        keep[max(0, int((start - open_s) * sr)): int((end + open_s) * sr)] = True
    (found,) = detect_speech(np.where(keep, x, 0.0).astype(np.float32), sr, model=model, options=options)
    kept = sum(
        max(0.0, min(end, b) - max(start, a)) for start, end in speech for a, b in found
    )
    return kept / total_s(speech)


def bench_count(path: Path, model, options: VadOptions) -> dict:
    x, sr = sf.read(path, dtype="float32")
    rows = [line.split("\t") for line in path.with_suffix(".segments").read_text().splitlines()]
    reference = np.array(
        [[float(a), float(b)] for a, b, label in rows if label.strip() == "speech"]
    )
    out = {}
    for name, (signal, rate) in {"clean": (x, sr), "phone": (phone_channel(x, sr), 8000)}.items():
        (found,) = detect_speech(signal, rate, model=model, options=options)
        out[f"f1_{name}"] = boundary_f1(found, reference)
        out[f"maxerr_{name}"] = (
            float(np.abs(found - reference).max()) if found.shape == reference.shape else np.nan
        )
    return out


def bench_fda(folder: Path, model, options: VadOptions) -> dict:
    return laryngograph_scores(
        sorted(folder.glob("rl*.wav")),
        lambda x, sr: detect_speech(x, sr, model=model, options=options)[0],
    )


def noise_ladder(path: Path, model, options: VadOptions) -> dict:
    """lca49 with phone-band noise at each SNR under each channel's P.56 speech level, as the
    validity suite adds it: each party's talk time (bridged as the timeline bridges) and the
    VAD's seconds per second of audio, per rung."""
    from benchmarks.validity.perturb import add_noise

    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x = np.ascontiguousarray(x.T)
    levels = [active_speech_level(channel, sr).level_dbfs for channel in x]
    out = {}
    for snr in (None, *LADDER_SNR_DB):
        noisy = x if snr is None else add_noise(x, sr, levels, snr, np.random.default_rng(LADDER_SEED))
        noisy = noisy.astype(np.float32)
        start = time.perf_counter()
        found = detect_speech_with_floor(noisy, sr, model=model, options=options)
        elapsed = time.perf_counter() - start
        out[snr] = {
            "talk": [total_s(bridge_gaps(c.intervals_s, max_gap_s=MeasureConfig().bridge_gap_s)) for c in found],
            "rtf": elapsed / (x.shape[1] / sr),
        }
    return out


def print_ladder(ladders: dict[str, dict]) -> None:
    print("\nlca49 under phone-band noise (300-3400 Hz) at SNR under each channel's P.56 speech level:")
    print("talk time agent / caller (s), its change from clean (%), s per s of audio (one run)")
    for name, ladder in ladders.items():
        print(f"\n  {name}")
        clean = ladder[None]["talk"]
        for snr in (None, *LADDER_SNR_DB):
            talk = ladder[snr]["talk"]
            change = "" if snr is None else " / ".join(f"{100 * (t / c - 1):+.1f}" for t, c in zip(talk, clean))
            label = "clean" if snr is None else f"{snr} dB"
            print(f"  {label:<8}{talk[0]:>7.1f} /{talk[1]:>6.1f}   {change:<15}{ladder[snr]['rtf']:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--repeat", type=int, default=3, help="speed runs; the best counts")
    parser.add_argument("--no-ladder", action="store_true", help="leave out the noise ladder")
    args = parser.parse_args(argv)
    call = args.fixtures / "calls" / "lca49_agent-left_caller-right_8k.wav"
    count = args.fixtures / "pauses" / "count.wav"
    fda = args.fixtures / "pitch" / "fda_rl"
    missing = [str(p) for p in (call, count, fda) if not p.exists()]
    if missing:
        print(f"Error: fixtures missing: {', '.join(missing)} (pass --fixtures)", file=sys.stderr)
        return 1
    model = load_vad_model()
    results = {}
    for rate in (8000, 16000):
        # Each rate at its own thresholds: the defaults are tuned for 16 kHz; at 8 kHz the
        # model is surer of phone speech and 0.3 / 0.2 moves word ends by up to 80 ms.
        options = VadOptions(sample_rate_hz=rate) if rate == 16000 else VadOptions(
            sample_rate_hz=rate, threshold=0.5, neg_threshold=None
        )
        results[rate] = {
            **bench_call(call, model, options, args.repeat),
            **bench_count(count, model, options),
            **bench_fda(fda, model, options),
        }
    r8, r16 = results[8000], results[16000]
    rows = [
        ("lca49 s per s of audio", "{rtf:.4f}"),
        ("lca49 talk agent (s)", "{talk0:.1f}"),
        ("lca49 talk caller (s)", "{talk1:.1f}"),
        ("lca49 voiced found agent", "{voiced0:.3f}"),
        ("lca49 voiced found caller", "{voiced1:.3f}"),
        ("lca49 floor agent (dBFS)", "{floor0:.1f}"),
        ("lca49 floor caller (dBFS)", "{floor1:.1f}"),
        ("lca49 muted: kept agent", "{muted0:.3f}"),
        ("lca49 muted: kept caller", "{muted1:.3f}"),
        ("count F1 clean", "{f1_clean:.2f}"),
        ("count F1 phone", "{f1_phone:.2f}"),
        ("count max error clean (s)", "{maxerr_clean:.3f}"),
        ("count max error phone (s)", "{maxerr_phone:.3f}"),
        ("fda recall (phone)", "{recall:.3f}"),
        ("fda false alarms (phone)", "{false_alarm:.3f}"),
    ]
    defaults = VadOptions()
    print(f"speechqa VAD benchmark; default options (the rate varies below): {defaults}")
    print(f"fda silence measured: {r8['silence_s']:.1f} s; boundary tolerance {TOLERANCE_S} s\n")
    print(f"{'vad rate':<28}{'8 kHz':>10}{'16 kHz':>10}")
    for label, fmt in rows:
        print(f"{label:<28}{fmt.format(**r8):>10}{fmt.format(**r16):>10}")
    if not args.no_ladder:
        eight = {"sample_rate_hz": 8000, "threshold": 0.5, "neg_threshold": None}
        print_ladder({
            "16 kHz, defaults": noise_ladder(call, model, VadOptions()),
            "16 kHz, fixed 6 dB gate, no cleaning": noise_ladder(call, model, VadOptions(**FIXED_GATE)),
            "8 kHz, defaults": noise_ladder(call, model, VadOptions(**eight)),
            "8 kHz, fixed gate, no cleaning": noise_ladder(call, model, VadOptions(**eight, **FIXED_GATE)),
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
