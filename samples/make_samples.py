"""Regenerate the sample calls in samples/ from espeak-ng, deterministically.

    python samples/make_samples.py [OUT_DIR]      (default: the folder of this script)

Writes call_en_stereo.wav (English, 8 kHz G.711 mu-law, agent LEFT, caller RIGHT),
call_ru_mono.wav (Russian, 8 kHz G.711 mu-law, both parties in one channel) and a
<name>.truth.json beside each: the utterance times, texts, voices and target levels, and the
timing events built into the call.
Needs espeak-ng on PATH; numpy, scipy and soundfile from the project's virtualenv.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, resample_poly, sosfiltfilt

SAMPLE_RATE_HZ = 8000
PHONE_BAND_HZ = (300.0, 3400.0)
NOISE_FLOOR_DBFS = -65.0
SEED = 20240611
LEAD_IN_S = 0.8  # ring before the first word
TAIL_S = 0.8  # line open after the last word
TRIM_BELOW_PEAK_DB = 40.0  # espeak's own leading/trailing silence is cut at this energy
DEAD_AIR_MIN_S = 3.0


@dataclass(frozen=True)
class Voice:
    voice: str  # espeak-ng voice, with +variant
    rate_wpm: int  # espeak-ng -s
    pitch: int  # espeak-ng -p, 0..99
    level_dbfs: float  # target active speech level (P.56)


@dataclass(frozen=True)
class Line:
    party: str
    text: str
    gap_s: float = 0.6  # after the end of the speech so far; negative: starts over it
    backchannel_at_s: float | None = None  # set: placed this far into the previous line


# The agent is a male voice, the caller a female one: the caller's median F0 is about 2.4x the
# agent's. Voices, rates and wording were picked so that Whisper base recognises them through the
# phone band (see samples/README.md). Lines are spoken as SSML (espeak-ng -m): the card number
# 4111 1111 1111 1111 is read as people read one, in pairs ("forty-one eleven"), with short breaks
# between the groups; espeak-ng reads "4111" as "four thousand one hundred eleven", and Whisper
# miscounts a run of sixteen spoken single digits. "I can help you with?" is not used: the band
# cuts the "th", and Whisper hears "help you win".
EN_VOICES = {"agent": Voice("en-us", 160, 55, -20.0), "caller": Voice("en-us+f5", 140, 70, -26.0)}
EN_SCRIPT = [
    Line("agent", "Thank you for calling Acme support, my name is John, how can I help you today?",
         0.0),
    Line("caller", "Hello. My internet stopped working yesterday."),
    Line("agent", "I am sorry to hear that. Could you tell me your account number, please?", 0.5),
    Line("caller", "I don't have it, but my card number is forty-one eleven <break time='120ms'/> "
         "eleven eleven <break time='120ms'/> eleven eleven <break time='120ms'/> "
         "eleven eleven.", 0.7),
    Line("caller", "I already restarted the router twice.", 0.5),
    # the agent interrupts: starts 1.5 s before the caller's end; "gonna" is the slang
    Line("agent", "Okay, thank you. I'm gonna check the line for you, one moment.", -1.5),
    Line("agent", "Thank you for waiting. I have fixed the problem on the line. "
         "Please restart your router now.", 3.5),
    Line("caller", "Mm-hmm.", backchannel_at_s=1.6),
    Line("caller", "Yes, it works now, thank you!", 1.0),
    Line("agent", "Is there anything else I can do for you?", 0.5),
    Line("caller", "No, thank you.", 0.6),
    Line("agent", "Thank you for calling Acme, have a great day!", 0.4),
]

# Two male voices: espeak-ng's Russian female variants are unintelligible to speech recognition.
# Both share one channel, so the targets are 3 dB under the stereo call's: at -20 dBFS it clips.
RU_VOICES = {"agent": Voice("ru", 150, 50, -23.0), "caller": Voice("ru+m2", 140, 30, -27.0)}
RU_SCRIPT = [
    Line("agent", "Здравствуйте, компания «Ромашка», меня зовут Анна, чем могу помочь?", 0.0),
    Line("caller", "Добрый день. Я хочу узнать баланс моего счёта.", 0.5),
    Line("agent", "На вашем счёте пятьсот рублей. Могу ли я ещё чем-нибудь помочь?", 0.5),
    Line("caller", "Нет, спасибо, это всё.", 0.5),
    Line("agent", "Спасибо за звонок, всего доброго!", 0.4),
]


def spoken_text(text: str) -> str:
    """A line's words without its SSML tags, for the truth file: a break becomes a comma."""
    return " ".join(re.sub(r"<[^>]*>", " ", re.sub(r"\s*<break[^>]*>", ",", text)).split())


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split("text-to-speech:")[-1].split()[0]


def synthesize(text: str, voice: Voice, workdir: Path) -> tuple[np.ndarray, int]:
    """Speak `text` (SSML allowed) with espeak-ng; (mono float64 signal, its rate in Hz: 22050)."""
    wav_path = workdir / "utterance.wav"
    cmd = ["espeak-ng", "-m", "-v", voice.voice, "-s", str(voice.rate_wpm), "-p", str(voice.pitch),
           "-w", str(wav_path), text]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({' '.join(cmd)}): {done.stderr.strip()}")
    return sf.read(wav_path, dtype="float64")


def trim_silence(signal: np.ndarray, rate_hz: int, *, below_peak_db: float) -> np.ndarray:
    """Cut leading/trailing 10 ms frames whose energy is below_peak_db under the loudest frame."""
    frame_len = rate_hz // 100
    n_frames = len(signal) // frame_len
    frames = signal[: n_frames * frame_len].reshape(n_frames, frame_len)
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    loud = np.flatnonzero(energy_db > energy_db.max() - below_peak_db)
    return signal[loud[0] * frame_len : (loud[-1] + 1) * frame_len]


def phone_band(signal: np.ndarray, rate_hz: int) -> np.ndarray:
    """Zero-phase 300-3400 Hz band-pass (no delay, so speech times stay put)."""
    sos = butter(4, PHONE_BAND_HZ, btype="bandpass", fs=rate_hz, output="sos")
    return sosfiltfilt(sos, signal)


def active_level_dbfs(signal: np.ndarray, rate_hz: int) -> float:
    """Active speech level per ITU-T P.56 method B (0.03 s envelope, 0.2 s hangover, 15.9 dB
    margin); dBFS = 10*log10(mean square), full scale 1.0. Thresholds on a 0.25 dB grid."""
    g = np.exp(-1.0 / (0.03 * rate_hz))
    envelope = lfilter([1 - g], [1, -g], lfilter([1 - g], [1, -g], np.abs(signal)))
    hangover = int(0.2 * rate_hz)
    power = signal**2
    prev = None
    for threshold_db in np.arange(-120.0, 0.0, 0.25):
        above = np.concatenate([np.zeros(hangover + 1), envelope >= 10 ** (threshold_db / 20)])
        counts = np.cumsum(above)
        active = (counts[hangover + 1 :] - counts[: -hangover - 1]) > 0
        if not active.any():
            break
        level_db = 10 * np.log10(power[active].mean() + 1e-20)
        margin_db = level_db - threshold_db
        if margin_db <= 15.9 and prev is not None:
            frac = (prev[1] - 15.9) / (prev[1] - margin_db)  # interpolate to the margin
            return prev[0] + frac * (level_db - prev[0])
        prev = (level_db, margin_db)
    raise RuntimeError("no active speech found in a synthesized clip")


def render_clip(line: Line, voice: Voice, workdir: Path) -> np.ndarray:
    """Synthesize, resample to 8 kHz, trim, band-limit and scale to the voice's active level."""
    signal, rate_hz = synthesize(line.text, voice, workdir)
    speech = resample_poly(signal, SAMPLE_RATE_HZ, rate_hz)  # 22050 -> 8000 Hz: up 160, down 441
    speech = phone_band(trim_silence(speech, SAMPLE_RATE_HZ, below_peak_db=TRIM_BELOW_PEAK_DB),
                        SAMPLE_RATE_HZ)
    return speech * 10 ** ((voice.level_dbfs - active_level_dbfs(speech, SAMPLE_RATE_HZ)) / 20)


def lay_out(script: list[Line], voices: dict[str, Voice], workdir: Path) -> list[dict]:
    """Render every line and give it a start sample on the call's timeline (times in ms)."""
    placed, cursor_s, host = [], LEAD_IN_S, None
    for line in script:
        clip = render_clip(line, voices[line.party], workdir)
        if line.backchannel_at_s is not None:
            start = round((host["start_s"] + line.backchannel_at_s) * SAMPLE_RATE_HZ)
        else:
            start = round((cursor_s + line.gap_s) * SAMPLE_RATE_HZ)
        item = {"line": line, "voice": voices[line.party], "clip": clip, "start": start,
                "host": host, "start_s": round(start / SAMPLE_RATE_HZ, 3),
                "end_s": round((start + len(clip)) / SAMPLE_RATE_HZ, 3)}
        placed.append(item)
        if line.backchannel_at_s is None:
            cursor_s, host = max(cursor_s, (start + len(clip)) / SAMPLE_RATE_HZ), item
    return placed


def find_events(placed: list[dict]) -> dict:
    """The timing events the layout produced, checked against what the samples promise."""
    events = {"dead_air": [], "backchannels": [], "interruptions": []}
    for item in placed:
        line, host = item["line"], item["host"]
        if line.backchannel_at_s is not None:
            if item["end_s"] - item["start_s"] > 1.0 or item["end_s"] > host["end_s"]:
                raise RuntimeError(f"backchannel {line.text!r} is over 1 s or outlasts its host")
            events["backchannels"].append({
                "party": line.party, "inside_turn_of": host["line"].party,
                "start_s": item["start_s"], "end_s": item["end_s"], "text": spoken_text(line.text)})
        elif host and item["start_s"] < host["end_s"] and line.party != host["line"].party:
            if host["end_s"] - item["start_s"] <= 0.5 or item["end_s"] - host["end_s"] <= 1.0:
                raise RuntimeError(f"interruption at {item['start_s']} s is too short")
            events["interruptions"].append({
                "by": line.party, "onset_s": item["start_s"],
                "overlap_start_s": item["start_s"], "overlap_end_s": host["end_s"]})
    spans = sorted((p["start_s"], p["end_s"]) for p in placed)
    speech_end_s = spans[0][1]
    for start_s, end_s in spans[1:]:
        if start_s - speech_end_s >= DEAD_AIR_MIN_S:
            events["dead_air"].append({"start_s": speech_end_s, "end_s": start_s})
        speech_end_s = max(speech_end_s, end_s)
    return events


def make_call(out_dir: Path, name: str, script: list[Line], voices: dict[str, Voice], *,
              channel_of_party: dict[str, int], subtype: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        placed = lay_out(script, voices, Path(tmp))
    n_samples = max(p["start"] + len(p["clip"]) for p in placed) + round(TAIL_S * SAMPLE_RATE_HZ)
    n_channels = max(channel_of_party.values()) + 1
    audio = np.zeros((n_samples, n_channels))
    for p in placed:
        channel = channel_of_party[p["line"].party]
        audio[p["start"] : p["start"] + len(p["clip"]), channel] += p["clip"]
    rng = np.random.default_rng(seed)
    audio += rng.standard_normal(audio.shape) * 10 ** (NOISE_FLOOR_DBFS / 20)
    if np.abs(audio).max() >= 1.0:
        raise RuntimeError(f"{name}: the mix clips; lower the target levels")
    sf.write(out_dir / f"{name}.wav", audio, SAMPLE_RATE_HZ, subtype=subtype, format="WAV")
    names = {0: "left", 1: "right"} if n_channels == 2 else {0: "mono"}
    truth = {
        "file": f"{name}.wav", "sample_rate_hz": SAMPLE_RATE_HZ, "channels": n_channels,
        "subtype": subtype, "duration_s": round(n_samples / SAMPLE_RATE_HZ, 3),
        "channel_map": {party: names[ch] for party, ch in channel_of_party.items()},
        "generator": {"script": "samples/make_samples.py", "espeak_ng": espeak_version(),
                      "seed": seed, "phone_band_hz": list(PHONE_BAND_HZ),
                      "noise_floor_dbfs": NOISE_FLOOR_DBFS,
                      "level_method": "ITU-T P.56 method B, dBFS = 10*log10(mean square)"},
        "utterances": [{"party": p["line"].party, "start_s": p["start_s"], "end_s": p["end_s"],
                        "text": spoken_text(p["line"].text), "level_dbfs": p["voice"].level_dbfs,
                        "voice": p["voice"].voice, "rate": p["voice"].rate_wpm,
                        "pitch": p["voice"].pitch} for p in placed],
        "events": find_events(placed),
    }
    text = json.dumps(truth, ensure_ascii=False, indent=2) + "\n"
    (out_dir / f"{name}.truth.json").write_text(text, encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write the samples into (default: samples/)")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("Error: espeak-ng not found; install it: apt-get install espeak-ng", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    calls = [
        ("call_en_stereo", EN_SCRIPT, EN_VOICES, {"agent": 0, "caller": 1}, "ULAW"),
        ("call_ru_mono", RU_SCRIPT, RU_VOICES, {"agent": 0, "caller": 0}, "ULAW"),
    ]
    for offset, (name, script, voices, channels, subtype) in enumerate(calls):
        try:
            truth = make_call(args.out_dir, name, script, voices, channel_of_party=channels,
                              subtype=subtype, seed=SEED + offset)
        except RuntimeError as error:
            print(f"Error: {error}", file=sys.stderr)
            return 1
        print(f"{name}.wav: {truth['duration_s']:.2f} s, {truth['channels']} ch, {subtype}, "
              f"{len(truth['utterances'])} utterances, events: "
              + ", ".join(f"{k}={len(v)}" for k, v in truth["events"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
