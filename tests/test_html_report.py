"""`speechqa score CALL --html/--png`: one self-contained page holding the timeline, the scorecard
and the (masked) transcript, the audio only when asked, and a PNG of the same."""

import base64
import dataclasses
import html
import io
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechqa.call import score_call
from speechqa.config import load_config
from speechqa.html_report import audio_element, call_html
from speechqa.pii import mask_utterances
from speechqa.timeline_svg import LEFT_PX
from speechqa.transcript import Utterance, Word

ROOT = Path(__file__).resolve().parents[1]
STEREO = ROOT / "samples" / "call_en_stereo.wav"
CONFIG = load_config(None)
NO_ASR = dataclasses.replace(CONFIG, measure=dataclasses.replace(
    CONFIG.measure, asr=dataclasses.replace(CONFIG.measure.asr, enabled=False)))
EXTERNAL = re.compile(r"""(?:src|href|action|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


class Page(HTMLParser):
    """Every element's tag and attributes, and the embedded call data."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self._in_data = False
        self.data_text = ""
        self.feed(text)
        self.close()
        self.data = json.loads(self.data_text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        self._in_data = attrs.get("id") == "call-data"

    def handle_endtag(self, tag):
        self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data_text += data

    def having(self, **wanted) -> list[dict]:
        return [a for _, a in self.elements if all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())]

    def classed(self, name: str) -> list[dict]:
        return [a for _, a in self.elements if name in (a.get("class") or "").split()]


@pytest.fixture(scope="module")
def result():
    return score_call(STEREO, config=NO_ASR)


@pytest.fixture(scope="module")
def page(result):
    return call_html(result, score=NO_ASR.score)


def test_the_page_is_one_file_with_no_external_url(page):
    assert not EXTERNAL.findall(page)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and not re.search(r"<script[^>]*\bsrc=", page)
    assert "<style>" in page and "<svg" in page


def test_every_criterion_and_its_verdict_is_on_the_page(result, page):
    rows = {a["data-criterion"]: a["data-verdict"] for a in Page(page).classed("criterion")}
    assert rows == {v.id: v.verdict for v in result.verdicts}
    assert any(v.verdict == "fail" for v in result.verdicts)
    for v in result.verdicts:   # each failed criterion marked on the timeline at its evidence
        marks = Page(page).having(data_criterion=v.id)
        evidence = [a for a in marks if "evidence" in (a.get("class") or "")]
        assert len(evidence) == (len(v.evidence) if v.verdict == "fail" else 0), v.id
        for a, (s, e) in zip(evidence, v.evidence):
            assert float(a["data-start"]) == pytest.approx(s) and float(a["data-end"]) == pytest.approx(e)
    assert Page(page).classed("abstentions") and "speech recognition is off" in page   # the abstentions' reason


def test_the_timeline_has_both_lanes_and_every_event_at_its_time(result, page):
    parsed = Page(page)
    m, derived = result.measurement, result.assessment.derived
    pps = parsed.data["view"]["px_per_s"]
    turns = parsed.classed("turn")
    assert len(turns) == len(m.turns) and {a["data-party"] for a in turns} == {"agent", "caller"}
    for a, t in zip(turns, m.turns):
        assert (a["data-party"], float(a["data-start"]), float(a["data-end"])) == (t.party, pytest.approx(t.start_s, abs=1e-3), pytest.approx(t.end_s, abs=1e-3))
        assert float(a["x"]) == pytest.approx(LEFT_PX + t.start_s * pps, abs=0.1)
    speech = {p: len(m.speech[p]) for p in ("agent", "caller")}
    assert {p: len(parsed.having(data_party=p, **{"class": "speech"})) for p in speech} == speech
    kinds = {e.kind for e in derived.events}
    assert {"overtalk", "interruption", "silence"} <= kinds   # the sample has each
    drawn = [(a["data-kind"], a["data-party"] or None, float(a["data-start"]), float(a["data-end"]))
             for _, a in parsed.elements if "data-kind" in a]
    expected = [(e.kind, e.party, e.start_s, e.end_s) for e in derived.events]
    assert len(drawn) == len(expected)
    for kind, party, s, e in expected:
        assert any(k == kind and p == party and abs(ds - s) < 1e-3 and abs(de - e) < 1e-3 for k, p, ds, de in drawn), (kind, s)
    interruption = next(e for e in derived.events if e.kind == "interruption")
    assert parsed.having(data_kind="interruption")[0]["data-party"] == interruption.party == "agent"
    assert {e["kind"] for e in parsed.data["events"]} == kinds
    assert set(parsed.data["f0"]) == {"agent", "caller"} and parsed.data["thresholds"]["level_band_dbfs"]


def test_the_transcript_is_masked(result):
    said = Utterance(party="caller", start_s=6.3, end_s=9.8, avg_logprob=-0.2, language="en",
                     text="my card is 4111 1111 1111 1111 and my phone +1 415 555 0132",
                     words=tuple(Word(w, 6.3 + 0.3 * i, 6.5 + 0.3 * i, 0.9) for i, w in enumerate(
                         "my card is 4111 1111 1111 1111 and my phone +1 415 555 0132".split())))
    masked = mask_utterances((said,), options=CONFIG.measure.pii)
    result = dataclasses.replace(result, measurement=dataclasses.replace(result.measurement, utterances=masked, language="en"))
    page = call_html(result)
    assert "4111" not in page and "0132" not in page
    parsed = Page(page)
    assert parsed.data["utterances"][0]["text"] == masked[0].text
    assert len(parsed.classed("utt")) == 1 and "PII masked" in page


def test_audio_is_embedded_only_when_asked(tmp_path):
    plain, embedded = tmp_path / "plain.html", tmp_path / "audio.html"
    run = _speechqa("score", "--no-asr", STEREO, "--html", plain)
    assert run.returncode == 0, run.stderr
    text = plain.read_text()
    assert "<audio" not in text and "base64," not in text and str(STEREO) in text
    run = _speechqa("score", "--no-asr", STEREO, "--html", embedded, "--embed-audio")
    assert run.returncode == 0, run.stderr
    found = re.search(r'<audio id="audio"[^>]*src="data:(audio/[a-z]+);base64,([A-Za-z0-9+/=]+)"', embedded.read_text())
    assert found
    audio, rate = sf.read(io.BytesIO(base64.b64decode(found.group(2))))
    assert audio.shape[1] == 2 and audio.shape[0] / rate == pytest.approx(sf.info(STEREO).duration, abs=0.1)


def test_html_and_png_take_one_path(tmp_path):
    run = _speechqa("score", "--no-asr", STEREO, STEREO, "--html", tmp_path / "x.html")
    assert run.returncode == 2 and "one PATH" in run.stderr
    run = _speechqa("score", "--no-asr", STEREO, "--embed-audio")
    assert run.returncode == 2


def test_the_png_renders(tmp_path):
    pytest.importorskip("matplotlib", reason="--png needs the plot extra: pip install 'speechqa[plot]'")
    out = tmp_path / "call.png"
    run = _speechqa("score", "--no-asr", STEREO, "--png", out)
    assert run.returncode == 0, run.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    from speechqa.timeline_svg import PARTY_COLOUR

    pixels = imread(out)[..., :3]
    for party in ("agent", "caller"):   # both lanes drawn: their speech at half alpha over white
        blend = 0.5 * np.array(to_rgb(PARTY_COLOUR[party])) + 0.5
        assert (np.abs(pixels - blend).max(axis=2) < 0.03).sum() > 2_000, party


@pytest.fixture(scope="module")
def real_call(fixtures_dir):
    """The stereo fixture call (4 minutes of real speech) and its page."""
    result = score_call(fixtures_dir / "calls" / "lca49_agent-left_caller-right_8k.wav", config=NO_ASR)
    return result, call_html(result, score=NO_ASR.score)


@pytest.mark.slow
def test_a_real_call_renders(real_call):
    result, page = real_call
    parsed = Page(page)
    assert not EXTERNAL.findall(page) and "http://" not in page and "https://" not in page
    assert len(parsed.classed("turn")) == len(result.measurement.turns) > 10
    assert {a["data-criterion"] for a in parsed.classed("criterion")} == {v.id for v in result.verdicts}
    failed = [v for v in result.verdicts if v.verdict == "fail"]
    assert failed
    for v in failed:   # each failed criterion marked at each of its evidence times
        marks = [a for a in parsed.having(data_criterion=v.id) if "evidence" in (a.get("class") or "")]
        assert len(marks) == len(v.evidence), v.id


@pytest.mark.asr
def test_a_transcribed_sample_shows_every_utterance_with_its_marks():
    result = score_call(STEREO, config=CONFIG)
    parsed = Page(call_html(result, score=CONFIG.score))
    utterances = parsed.classed("utt")
    assert len(utterances) == len(result.measurement.utterances) > 0
    assert [a["data-start"] for a in utterances] == [str(round(u.start_s, 4)) for u in result.measurement.utterances]
    said = parsed.classed("said")   # and on the timeline, each at its time in its party's row
    assert [(a["data-party"], float(a["data-t"])) for a in said] == [
        (u.party, pytest.approx(u.start_s, abs=1e-3)) for u in result.measurement.utterances]


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (apt-get install chromium; "
                                                             ".ci/run installs it when it can)")


# Appended to the page the DOM is read from: after load, every URL the page requested (Resource
# Timing lists failed requests too), since Chromium's log does not name a blocked image or font.
FETCH_PROBE = ('<script>addEventListener("load", function () { setTimeout(function () { '
               'document.documentElement.setAttribute("data-fetched", JSON.stringify('
               'performance.getEntriesByType("resource").map(function (r) { return r.name; }))); }, 200); });</script>')


@needs_browser
def test_a_browser_draws_the_page_offline_without_errors(result, page, tmp_path):
    path = tmp_path / "call.html"
    path.write_text(page)
    dom, log, shot, fetched = _chromium(path, tmp_path)
    assert 'data-ready="1"' in dom, log[-2000:]            # the script ran to its end
    assert dom.count('class="turn"') == len(result.measurement.turns)
    assert log == "", log[-2000:]   # the page logs nothing: any console line (an error, a warning) is a fault
    assert fetched == []            # nothing requested, not even in vain
    assert shot.stat().st_size > 20_000   # a drawn page, not a blank one (a blank 1200x1400 PNG is ~5 kB)


@pytest.mark.slow
@needs_browser
def test_a_browser_draws_a_real_call(real_call, tmp_path):
    result, page = real_call
    path = tmp_path / "lca49.html"
    path.write_text(page)
    dom, log, shot, fetched = _chromium(path, tmp_path)
    assert 'data-ready="1"' in dom and log == "" and fetched == [], log[-2000:]
    assert dom.count('class="turn"') == len(result.measurement.turns) and shot.stat().st_size > 20_000


# With FETCH_PROBE, for a page with its audio: click the first mark, then move the playhead to
# 20 s as playing would; where the player and the cursor went, and whether the audio decoded.
PLAYER_PROBE = ('<script>addEventListener("load", function () { setTimeout(function () { '
                'var audio = document.getElementById("audio"), cursor = document.getElementById("cursor"); '
                'var mark = document.querySelector("#timeline [data-t]"); '
                'mark.dispatchEvent(new MouseEvent("click", {bubbles: true})); '
                'var clicked = {t: +mark.dataset.t, audio_s: audio.currentTime, cursor_x: +cursor.getAttribute("x1")}; '
                'audio.currentTime = 20; audio.dispatchEvent(new Event("timeupdate")); '
                'document.documentElement.setAttribute("data-player", JSON.stringify({error: audio.error && audio.error.code, '
                'duration_s: audio.duration, clicked: clicked, cursor_x_at_20_s: +cursor.getAttribute("x1")})); }, 500); });</script>')


@needs_browser
def test_a_browser_plays_the_embedded_audio_with_the_timeline(result, tmp_path):
    path = tmp_path / "audio.html"
    path.write_text(call_html(result, score=NO_ASR.score, audio_html=audio_element(str(STEREO))))
    dom, log, shot, fetched = _chromium(path, tmp_path, probe=FETCH_PROBE + PLAYER_PROBE)
    assert log == "" and fetched == [], log[-2000:]
    player = json.loads(html.unescape(re.search(r'data-player="([^"]*)"', dom).group(1)))
    assert player["error"] is None and player["duration_s"] == pytest.approx(sf.info(STEREO).duration, abs=0.1)
    pps = Page(path.read_text()).data["view"]["px_per_s"]
    clicked = player["clicked"]
    assert clicked["audio_s"] == pytest.approx(clicked["t"], abs=0.01)      # a click moves the player ...
    assert clicked["cursor_x"] == pytest.approx(LEFT_PX + clicked["t"] * pps, abs=0.5)   # ... and the cursor
    assert player["cursor_x_at_20_s"] == pytest.approx(LEFT_PX + 20 * pps, abs=0.5)    # the playhead moves the cursor


def _chromium(path: Path, tmp_path: Path, *, probe: str = FETCH_PROBE) -> tuple[str, str, Path, list[str]]:
    """The DOM after the scripts ran, Chromium's console messages and errors, a screenshot, and the
    URLs the page requested; the network is off: every request goes to a proxy on a closed local
    port. The screenshot is of the file itself; the DOM is read from a copy with `probe` (which
    must hold FETCH_PROBE) added."""
    # --disable-dev-shm-usage: a container's /dev/shm (64 MB under Docker) can crash the renderer
    flags = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
             "--proxy-bypass-list=<-loopback>", "--enable-logging=stderr", "--v=0", "--window-size=1200,1400",
             "--virtual-time-budget=3000"]
    probed = tmp_path / f"probed-{path.name}"
    probed.write_text(path.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    shot = tmp_path / "shot.png"
    grab = subprocess.run([*flags, f"--screenshot={shot}", path.as_uri()], capture_output=True, text=True, timeout=120)
    log = "\n".join(line for line in (dom.stderr + grab.stderr).splitlines() if "CONSOLE" in line or "Uncaught" in line
                    or "net::ERR_" in line)
    found = re.search(r'data-fetched="([^"]*)"', dom.stdout)
    fetched = json.loads(html.unescape(found.group(1))) if found else None
    return dom.stdout, log, shot, fetched


def _speechqa(*args):
    return subprocess.run([sys.executable, "-m", "speechqa", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
