"""The calls in a recordings folder: files, two-leg pairs, identity and metadata.

Walks the folder, joins one-file-per-leg recordings into one call, reads the call time and
metadata from the file name (a configured pattern) and a sidecar, and reads a call's audio.

Nothing here stops at a bad file: a leg without its partner, an unreadable sidecar or a call
time that does not parse becomes a SourceProblem (an error row downstream) and the walk goes
on. Only a configuration that cannot work (a bad regex or time zone) raises, before the walk.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from speechqa.audio import Recording, read_audio, read_two_legs
from speechqa.errors import SpeechQAError
from speechqa.names import PARTIES
from speechqa.options import AUDIO_EXTENSIONS, CUSTOMER_ID_MODES, SourceOptions

logger = logging.getLogger(__name__)

SIDECAR_SUFFIXES = (".json", ".csv")   # looked up in this order; never taken for audio
# All in errors.ERROR_TYPES. missing_leg also covers "no single partner": several candidates.
PROBLEM_TYPES = ("missing_leg", "bad_metadata", "not_found", "unreadable")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SourceProblem:
    """A file that cannot become a call; `error_type` is one of PROBLEM_TYPES."""

    relpath: str
    error_type: str
    message: str


@dataclass(frozen=True)
class Ignored:
    """A file or folder the walk passed over on purpose, and why: `hidden` (a name starting with
    ".": partial copies, editor and sync files), `walked` (a link to a folder already walked: a
    loop, or a second way into one folder). Not a failure: no error row; the batch says so."""

    relpath: str
    why: str


class Discovery(NamedTuple):
    calls: list[CallSource]
    problems: list[SourceProblem]
    ignored: list[Ignored]


@dataclass(frozen=True)
class CallSource:
    """One call: one file, or an agent leg and a caller leg (`paths` in that order)."""

    relpath: str                 # posix, relative to the root; the agent leg's for two legs
    paths: tuple[Path, ...]
    size_bytes: int              # sum over the files
    mtime_ns: int                # latest of the files
    call_start_utc: datetime     # timezone-aware, UTC
    call_date: date              # local business day of the call start in options.timezone
    call_time_source: str        # "filename", "sidecar" or "mtime"
    metadata: dict[str, str] = field(hash=False)   # call_time is not kept: it is call_start_utc
    two_legs: bool = False
    # relpaths as stored and logged, when they differ from `relpaths` (a customer id from the
    # file name hashed or dropped there too); set by `discover`
    redacted_relpaths: tuple[str, ...] = ()

    @property
    def shown_relpaths(self) -> tuple[str, ...]:
        """Each file's path as speechqa stores and logs it, in the order of `paths`."""
        return self.redacted_relpaths or self.relpaths

    @property
    def shown_relpath(self) -> str:
        return self.shown_relpaths[0]

    @property
    def relpaths(self) -> tuple[str, ...]:
        """Each file's path relative to the root, in the order of `paths`."""
        folder = self.relpath.rpartition("/")[0]
        return (self.relpath, *(f"{folder}/{p.name}" if folder else p.name for p in self.paths[1:]))

    @property
    def fingerprint(self) -> tuple[str, int, int]:
        """A cheap key (relpath, size_bytes, mtime_ns): unchanged means no need to hash again."""
        return (self.relpath, self.size_bytes, self.mtime_ns)


def discover(root: Path, *, options: SourceOptions, since: datetime | None = None) -> Discovery:
    """The calls under `root`, the files that cannot be calls, and what was passed over on
    purpose, each sorted by relpath.

    Links to folders are followed (a recorder's day folders are often links to other disks); a
    link to a folder already walked is not walked again, so a loop ends. Hidden files and folders
    (".name") are passed over and listed in `ignored`; sidecars and files of other extensions
    are passed over silently. `since` (timezone-aware) keeps
    calls starting at or after it; it also drops leg problems whose call time is known to be
    earlier. A bad_metadata problem has no call time, so it is always reported.
    Raises SpeechQAError: bad_config for unusable options, not_found when `root` is no folder.
    """
    rules = _rules(options)
    if since is not None and since.utcoffset() is None:
        raise SpeechQAError(f"since={since.isoformat()} has no time zone; pass an aware datetime "
                            "(e.g. with tzinfo=datetime.UTC)", error_type="bad_config")
    root = Path(root)
    if not root.is_dir():
        reason = "is not a folder" if root.exists() else "does not exist"
        raise SpeechQAError(f"{root} {reason}; pass the folder the recordings are in",
                            error_type="not_found")
    calls, problems, ignored = [], [], []
    for folder in _walk(root, rules, problems, ignored):
        for unit in _units(folder, rules):
            call = _describe_or_problem(folder, unit, rules)
            if isinstance(call, SourceProblem):
                problems.append(call)
            elif since is not None and call.call_start_utc < since:
                continue                # a leg problem too: that leg was reported on an earlier run
            elif unit.problem:
                problems.append(unit.problem)
            else:
                calls.append(call)
    calls = [dataclasses.replace(c, redacted_relpaths=tuple(_redact(c.relpath, p, rules) for p in c.relpaths)) for c in calls]
    problems = [SourceProblem(_redact(p.relpath, p.relpath, rules), p.error_type, _redact(p.relpath, p.message, rules))
                for p in problems]
    ignored = [Ignored(_redact(i.relpath, i.relpath, rules), _redact(i.relpath, i.why, rules)) for i in ignored]
    return Discovery(sorted(calls, key=lambda c: c.relpath), sorted(problems, key=lambda p: p.relpath),
                     sorted(ignored, key=lambda i: i.relpath))


def describe_ignored(ignored: list[Ignored], *, most: int = 5) -> list[str]:
    """One line per reason: how many, and the first few paths."""
    lines = []
    for why in sorted({i.why for i in ignored}):
        paths = [i.relpath for i in ignored if i.why == why]
        shown = ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")
        lines.append(f"ignored {len(paths)} {why}: {shown}")
    return lines


def _redact(relpath: str, text: str, rules: _Rules) -> str:
    """`text` without the customer id that `relpath` carries by the filename pattern, when that id
    is hashed or dropped: it then lives only in its own column, never in paths, logs or errors/."""
    if rules.options.customer_id == "keep" or rules.filename is None or "customer_id" not in rules.filename.groupindex:
        return text
    match = rules.filename.search(relpath)
    raw = match.group("customer_id") if match else None
    if not raw:
        return text
    if rules.options.customer_id == "hash":
        return text.replace(raw, hash_customer_id(raw, salt=rules.options.customer_id_salt))
    return text.replace(raw, "[customer]")


def read_call(source: CallSource, *, max_duration_s: float) -> Recording:
    """The call's audio: the one file as it is, or two legs as stereo (agent left, caller right)."""
    if source.two_legs:
        return read_two_legs(*source.paths, max_duration_s=max_duration_s)
    return read_audio(source.paths[0], max_duration_s=max_duration_s)


def content_id(path: str | Path) -> str:
    """A call's id: a hash of the file's bytes, so a moved or renamed file keeps it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def call_content_id(source: CallSource) -> str:
    """20 hex chars identifying the call's bytes: a moved or renamed call keeps it.

    One file: exactly content_id. Two legs: sha256 over a tag and each leg's
    sha256 in (agent, caller) order; fixed-length digests need no separator, and swapped legs
    (a different call for every party metric) get another id.
    """
    if not source.two_legs:
        return content_id(source.paths[0])
    digest = hashlib.sha256(b"speechqa two legs\n")
    for path in source.paths:
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:20]


def hash_customer_id(customer_id: str, *, salt: str) -> str:
    """What customer_id = "hash" stores: sha256(salt + id), 16 hex chars (for erasure look-ups too)."""
    return hashlib.sha256((salt + customer_id).encode()).hexdigest()[:16]


SALT_CHECK_TEXT = "speechqa: the salt of this warehouse"


def customer_id_policy(options: SourceOptions) -> dict[str, str]:
    """How a batch stores customer ids, as its warehouse records it: the mode, and for "hash" the
    hash of a fixed text under the salt, which tells whether a later `purge --customer` hashes
    with the same salt without storing the salt (or any id)."""
    policy = {"customer_id": options.customer_id}
    if options.customer_id == "hash":
        policy["customer_id_check"] = hash_customer_id(SALT_CHECK_TEXT, salt=options.customer_id_salt)
    return policy


# --- options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    """SourceOptions checked and compiled once, before the walk."""

    options: SourceOptions
    pair: re.Pattern
    filename: re.Pattern | None
    tz: ZoneInfo
    extensions: frozenset[str]
    legs: dict[str, tuple[str, ...]]       # party (PARTIES) -> leg names, lower case, in order


def _rules(options: SourceOptions) -> _Rules:
    pair = _compile("pair_pattern", options.pair_pattern)
    if not {"call", "leg"} <= set(pair.groupindex):
        raise SpeechQAError(f"pair_pattern {options.pair_pattern!r} needs the named groups "
                            "(?P<call>...) and (?P<leg>...)", error_type="bad_config")
    legs = {party: tuple(leg.lower() for leg in getattr(options, f"{party}_legs")) for party in PARTIES}
    if set(legs["agent"]) & set(legs["caller"]) or not (legs["agent"] and legs["caller"]):
        raise SpeechQAError(f"agent_legs {options.agent_legs} and caller_legs {options.caller_legs} must "
                            "both name legs, and no name may be in both", error_type="bad_config")
    if options.customer_id not in CUSTOMER_ID_MODES:
        raise SpeechQAError(f"customer_id={options.customer_id!r} is not one of "
                            f"{', '.join(CUSTOMER_ID_MODES)}", error_type="bad_config")
    if options.customer_id == "hash" and not options.customer_id_salt:
        logger.warning("customer_id = \"hash\" without customer_id_salt: ids such as phone numbers "
                       "can be recovered from their hashes by trying them all; set a secret salt")
    filename = _compile("filename_pattern", options.filename_pattern) if options.filename_pattern else None
    extensions = frozenset(e.lower().lstrip(".") for e in options.extensions)
    return _Rules(options, pair, filename, _zone(options.timezone), extensions, legs)


def _compile(option: str, pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SpeechQAError(f"{option} {pattern!r} is not a valid regular expression ({exc}); "
                            "fix it in the configuration", error_type="bad_config") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpeechQAError(f"timezone={name!r} is not a known time zone; use an IANA name such as "
                            "'Europe/Moscow' or 'UTC'", error_type="bad_config") from None


# --- walking and pairing ------------------------------------------------------------------------


class _BadMetadata(Exception):
    """A sidecar or call time that cannot be read. Messages name files and keys, never a customer id."""


@dataclass(frozen=True)
class _Folder:
    path: Path
    reldir: str                  # posix, "" at the root
    audio: tuple[str, ...]       # sorted audio file names
    names: frozenset[str]        # every visible file name, to find sidecars without a stat each

    def relpath(self, name: str) -> str:
        return f"{self.reldir}/{name}" if self.reldir else name


@dataclass(frozen=True)
class _Unit:
    """The files of one call, or one leg that cannot be paired (then `problem` is set)."""

    relpath: str
    paths: tuple[Path, ...]
    sidecar_stems: tuple[str, ...]   # where to look for a sidecar, first found wins
    problem: SourceProblem | None = None


HIDDEN = "hidden file(s) or folder(s) (names starting with \".\"; rename them to score them)"
WALKED = "link(s) to a folder already walked (a loop, or a second way into it)"


def _walk(root: Path, rules: _Rules, problems: list[SourceProblem], ignored: list[Ignored]):
    def unlistable(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(root).as_posix()
        problems.append(SourceProblem(rel, "unreadable", f"folder {rel} cannot be listed "
                                      f"({exc.strerror}); check its permissions"))

    def relpath(dirpath: str, name: str) -> str:
        reldir = Path(dirpath).relative_to(root).as_posix()
        return name if reldir == "." else f"{reldir}/{name}"

    walked = {_folder_key(root)}
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable, followlinks=True):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                ignored.append(Ignored(relpath(dirpath, d) + "/", HIDDEN))
                continue
            key = _folder_key(Path(dirpath) / d)
            if key in walked:
                ignored.append(Ignored(relpath(dirpath, d) + "/", WALKED))
                continue
            walked.add(key)
            keep.append(d)
        dirnames[:] = keep
        ignored.extend(Ignored(relpath(dirpath, f), HIDDEN) for f in filenames
                       if f.startswith(".") and _is_audio(f.lstrip("."), rules.extensions))
        names = frozenset(f for f in filenames if not f.startswith("."))
        audio = tuple(sorted(f for f in names if _is_audio(f, rules.extensions)))
        if audio:
            reldir = Path(dirpath).relative_to(root).as_posix()
            yield _Folder(Path(dirpath), "" if reldir == "." else reldir, audio, names)


def _folder_key(path: Path) -> tuple[int, int] | Path:
    """What makes a folder the same folder, by whatever path it is reached: device and inode."""
    try:
        st = path.stat()
    except OSError:
        return path   # unlistable anyway: os.walk reports it
    return (st.st_dev, st.st_ino)


def _is_audio(name: str, extensions: frozenset[str]) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix not in SIDECAR_SUFFIXES and suffix[1:] in extensions


def _units(folder: _Folder, rules: _Rules) -> list[_Unit]:
    units, legs = [], {}
    for name in folder.audio:
        stem = os.path.splitext(name)[0]
        match = rules.pair.fullmatch(stem)    # fullmatch: a leg name is a whole stem, not a part
        kind = _leg_kind(match, rules)
        if kind is None:
            units.append(_Unit(folder.relpath(name), (folder.path / name,), (stem,)))
        else:
            legs.setdefault(match["call"], {party: [] for party in PARTIES})[kind].append((name, match))
    for call, group in legs.items():
        units.extend(_pair(folder, call, group["agent"], group["caller"], rules))
    return units


def _leg_kind(match: re.Match | None, rules: _Rules) -> str | None:
    leg = (match["leg"] or "").lower() if match else ""
    return next((kind for kind, names in rules.legs.items() if leg in names), None)


def _pair(folder: _Folder, call: str, agents: list, callers: list, rules: _Rules) -> list[_Unit]:
    """One agent and one caller leg make a call; anything else leaves each leg a problem."""
    if len(agents) == 1 and len(callers) == 1:
        (agent, agent_match), (caller, caller_match) = agents[0], callers[0]
        stems = (call, agent_match.string, caller_match.string)
        return [_Unit(folder.relpath(agent), (folder.path / agent, folder.path / caller), stems)]
    # Several candidates: any choice could pair the wrong files, so none is made.
    candidates = [name for name, _ in agents + callers] if agents and callers else None
    return [_Unit(folder.relpath(name), (folder.path / name,), (call, match.string),
                  _leg_problem(folder, name, match, rules, candidates)) for name, match in agents + callers]


def _leg_problem(folder: _Folder, name: str, match: re.Match, rules: _Rules,
                 candidates: list[str] | None) -> SourceProblem:
    relpath = folder.relpath(name)
    if candidates:
        return SourceProblem(relpath, "missing_leg", (
            f"{relpath} has no single partner: several legs of one call are in this folder "
            f"({', '.join(candidates)}), and a call pairs exactly one agent leg with one caller leg: "
            "move or rename the extra files"))
    kind = _leg_kind(match, rules)
    other_kind = PARTIES[1 - PARTIES.index(kind)]
    # The partner's leg name sits at the same place in the other list: agent-caller, out-in.
    index = rules.legs[kind].index(match["leg"].lower())
    others = rules.legs[other_kind]
    partner = (match.string[:match.start("leg")] + others[min(index, len(others) - 1)]
               + match.string[match.end("leg"):] + os.path.splitext(name)[1])
    return SourceProblem(relpath, "missing_leg", (
        f"{relpath} is named as the {kind} leg of a two-leg call, but its {other_kind} leg {partner} "
        f"(or another {other_kind} leg name: {', '.join(others)}) is not in the same folder; if it is "
        "still being copied, the call is picked up on a later run. If this file is a whole call, "
        f"not one leg, change pair_pattern (now {rules.options.pair_pattern!r}) so its name does not match"))


# --- metadata and call time ---------------------------------------------------------------------


def _describe_or_problem(folder: _Folder, unit: _Unit, rules: _Rules) -> CallSource | SourceProblem:
    """The unit described; its leg problem, or a new one, when that cannot be done."""
    try:
        return _describe(folder, unit, rules)
    except _BadMetadata as exc:
        return unit.problem or SourceProblem(unit.relpath, "bad_metadata", str(exc))
    except OSError as exc:      # vanished while walking, a dangling link, no permission
        kind = "not_found" if isinstance(exc, FileNotFoundError) else "unreadable"
        return SourceProblem(unit.relpath, kind, f"{unit.relpath} cannot be read "
                             f"({exc.strerror or exc}); check the file and its permissions")


def _describe(folder: _Folder, unit: _Unit, rules: _Rules) -> CallSource:
    stats = [path.stat() for path in unit.paths]
    from_name = _filename_metadata(unit.relpath, rules)
    from_sidecar = _sidecar_metadata(folder, unit.sidecar_stems)
    metadata = {**from_name, **from_sidecar}       # the sidecar is the later, richer word
    call_time = metadata.pop("call_time", None)
    mtime_ns = max(st.st_mtime_ns for st in stats)
    if call_time is None:
        start, source = _EPOCH + timedelta(microseconds=mtime_ns // 1000), "mtime"
    else:
        source = "sidecar" if "call_time" in from_sidecar else "filename"
        start = _parse_call_time(call_time, f"the {'file name' if source == 'filename' else 'sidecar'}", rules)
    _apply_customer_id_policy(metadata, rules.options)
    return CallSource(relpath=unit.relpath, paths=unit.paths, size_bytes=sum(st.st_size for st in stats),
                      mtime_ns=mtime_ns, call_start_utc=start, call_date=start.astimezone(rules.tz).date(),
                      call_time_source=source, metadata=metadata, two_legs=len(unit.paths) == 2)


def _filename_metadata(relpath: str, rules: _Rules) -> dict[str, str]:
    # search, not fullmatch: the pattern need not spell out leading folders, the extension or a
    # leg suffix; anchor it with ^ and $ where that matters. No match is no metadata, not an error.
    match = rules.filename.search(relpath) if rules.filename else None
    return {k: v for k, v in match.groupdict().items() if v is not None} if match else {}


def _sidecar_metadata(folder: _Folder, stems: tuple[str, ...]) -> dict[str, str]:
    for name in (stem + suffix for stem in stems for suffix in SIDECAR_SUFFIXES):
        if name in folder.names:
            relpath = folder.relpath(name)
            try:
                text = (folder.path / name).read_text(encoding="utf-8-sig")   # -sig: spreadsheets write a BOM
            except UnicodeDecodeError:
                raise _BadMetadata(f"sidecar {relpath} is not UTF-8 text; save it as UTF-8") from None
            return _json_sidecar(text, relpath) if name.endswith(".json") else _csv_sidecar(text, relpath)
    return {}


def _json_sidecar(text: str, relpath: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadMetadata(f"sidecar {relpath} is not valid JSON ({exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}); fix or remove it") from None
    if not isinstance(data, dict):
        raise _BadMetadata(f"sidecar {relpath} holds a JSON {type(data).__name__}, not an object; "
                           'write {"name": "value", ...}')
    metadata = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            raise _BadMetadata(f"sidecar {relpath}: the value of {key!r} is a JSON {type(value).__name__}; "
                               "sidecar values must be strings, numbers or booleans")
        if value is not None:                # null: no value, like a missing key
            metadata[key.strip()] = value if isinstance(value, str) else json.dumps(value)
    return metadata


def _csv_sidecar(text: str, relpath: str) -> dict[str, str]:
    # Spreadsheets in many locales write ';' or tabs: take what the header uses most.
    delimiter = max(",;\t", key=text.partition("\n")[0].count)
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(row)]
    except csv.Error as exc:
        raise _BadMetadata(f"sidecar {relpath} is not valid CSV ({exc}); fix or remove it") from None
    if len(rows) != 2 or len(rows[0]) != len(rows[1]):
        shape = f"{len(rows)} rows" if len(rows) != 2 else f"{len(rows[0])} names and {len(rows[1])} values"
        raise _BadMetadata(f"sidecar {relpath} has {shape}; a sidecar CSV holds a header row and one "
                           "data row with a value for every name")
    # An empty cell is no value: it must not blank out what the file name said.
    return {key.strip(): value.strip() for key, value in zip(*rows) if value.strip()}


def _parse_call_time(text: str, origin: str, rules: _Rules) -> datetime:
    # call_time_format first, then ISO 8601, which cannot be misread: sidecars tend to carry it
    # while file names carry a compact format.
    fmt, moment = rules.options.call_time_format, None
    if fmt:
        with contextlib.suppress(ValueError):
            moment = datetime.strptime(text, fmt)
    if moment is None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            how = f"parses neither as call_time_format {fmt!r} nor" if fmt else "does not parse"
            raise _BadMetadata(f"call_time {text!r} from {origin} {how} as ISO 8601; set "
                               "call_time_format to the strptime format the recorder writes") from None
    if moment.utcoffset() is None:           # a naive time is the wall clock where the calls are
        moment = moment.replace(tzinfo=rules.tz)
    return moment.astimezone(UTC)


def _apply_customer_id_policy(metadata: dict[str, str], options: SourceOptions) -> None:
    if "customer_id" in metadata and options.customer_id != "keep":
        customer_id = metadata.pop("customer_id")
        if options.customer_id == "hash":
            metadata["customer_id"] = hash_customer_id(customer_id, salt=options.customer_id_salt)
