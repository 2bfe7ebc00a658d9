"""Diarization of a mono call: one mixed channel's speech split into two speakers.

The speech the VAD found is cut into short overlapping windows, each window becomes a speaker
embedding (speechqa.features.speaker, CAM++), and the windows are clustered into two speakers
by spectral clustering on pruned cosine affinities (as 3D-Speaker clusters CAM++ embeddings).
Two speakers are forced: automatic speaker counting merged two similar voices in a study here,
and agglomerative clustering with k = 2 split off one outlier window instead of a voice. A
recording of one voice (an IVR prompt, voicemail) is told apart afterwards: when the two
clusters' centroids are as alike as one voice's windows are, or one cluster holds almost no
speech, the call has one speaker and is not split. Between that and clearly different voices
lies a range where embeddings cannot tell one noisy or short voice, split in two, from two alike
voices (centroids at cosine 0.72-0.80 for one voice, 0.75-0.84 for two, in a study here). There
a segmentation network (speechqa.features.segmentation), trained to tell the voices within a
few seconds apart, listens to chunks where both clusters speak: if it hears a second voice in
too few of them, the call has one speaker.

Each short frame of speech takes the speaker that most windows covering it were given; speech
too short for a window of its own takes its nearest labelled neighbour's. Speech of both
speakers at once cannot be told apart in one channel: it goes to one of them, so overtalk and
interruptions of a diarized call are left unmeasured (speechqa.derive), never read as none.

Pure functions over arrays: `embed` (windows -> embeddings) is passed in, so the clustering
runs and is tested without the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from speechqa.options import DiarizeOptions
from speechqa.timeline import bridge_gaps, intersection, total_s
from speechqa.transcript import Utterance

FRAME_S = 0.05   # the resolution at which speech is labelled with a speaker
MAX_CLUSTERED = 1500   # windows clustered at most; the rest join the nearer centroid (bounded memory and time)
# The segmentation check: chunks this long, candidates this far apart, where each cluster holds
# this much speech; a chunk is heard as two voices when its second local speaker talks this long.
CHECK_CHUNK_S = 5.0
CHECK_HOP_S = 2.5
CHECK_EACH_S = 1.0
CHECK_SECOND_S = 0.5

Embed = Callable[[np.ndarray], np.ndarray]   # (n, 2) windows [start_s, end_s] -> (n, d) L2-normalised embeddings
# (n,) chunk starts (s), chunk length (s) -> (n, k) seconds each local speaker of the chunk is heard, largest first
Hear = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True, eq=False)
class Diarization:
    """Two speakers' speech (speaker 0 holds most of the first stretch of speech), or one speaker's.

    speech: one (n, 2) interval array per speaker found, bridged at the timeline's bridge gap.
    confidence: the share of embedded windows clearly nearer their own speaker's centroid than
        the other's (cosine margin >= [measure.diarize] clear_margin); None for one speaker.
    centroid_similarity: cosine similarity of the two clusters' centroids (1.0: one voice).
    two_voice_share: where the segmentation check ran, the share of its chunks (weighted by the
        lesser cluster's speech in each) in which it heard a second voice; else None.
    """

    speech: tuple[np.ndarray, ...]
    confidence: float | None
    centroid_similarity: float | None
    windows: int
    two_voice_share: float | None = None

    @property
    def speakers(self) -> int:
        return len(self.speech)


def diarize(speech: np.ndarray, *, embed: Embed, options: DiarizeOptions, bridge_gap_s: float,
            hear: Hear | None = None) -> Diarization:
    """Split one channel's speech intervals (bridged VAD output, seconds) into two speakers.

    hear: the segmentation check (None: not made), asked when the clusters' centroids are at
    least options.check_similarity alike."""
    speech = np.asarray(speech, dtype=np.float64).reshape(-1, 2)
    windows = speech_windows(speech, window_s=options.window_s, hop_s=options.hop_s, min_s=options.min_window_s)
    if len(windows) < 2 * options.min_windows_per_speaker:
        return Diarization((speech,), None, None, len(windows))
    vectors = np.asarray(embed(windows), dtype=np.float64)
    labels = two_clusters(vectors, pruning=options.pruning)
    centroids = np.stack([_unit(vectors[labels == k].mean(axis=0)) for k in (0, 1)])
    similarity = float(centroids[0] @ centroids[1])
    sizes = np.bincount(labels, minlength=2)
    if similarity >= options.one_speaker_similarity or sizes.min() < options.min_windows_per_speaker:
        return Diarization((speech,), None, similarity, len(windows))
    own = (vectors @ centroids.T)[np.arange(len(labels)), labels]
    other = (vectors @ centroids.T)[np.arange(len(labels)), 1 - labels]
    confidence = float(np.mean(own - other >= options.clear_margin))
    frames, ends, stretch, speaker = _label_frames(speech, windows, labels, min_turn_s=options.min_turn_s)
    if options.refine_reach_s > 0:
        speaker = _refined_changes(frames, stretch, speaker, speech, centroids, embed=embed, options=options)
    parts = [_runs(frames[speaker == k], ends[speaker == k]) for k in (0, 1)]
    if min(total_s(p) for p in parts) == 0:
        return Diarization((speech,), None, similarity, len(windows))
    parts = [bridge_gaps(p, max_gap_s=bridge_gap_s) for p in parts]
    share = None
    if hear is not None and similarity >= options.check_similarity:
        share = two_voice_share(parts, hear, chunks=options.check_chunks)
        if share is not None and share < options.min_two_voice_share:
            return Diarization((speech,), None, similarity, len(windows), share)
    # Who opens the call: most of its first stretch of speech, not its first frame (one window
    # of the other voice at the very start would otherwise decide).
    parts.sort(key=lambda p: -total_s(intersection(p, speech[:1])))
    return Diarization(tuple(parts), confidence, similarity, len(windows), share)


def two_voice_share(parts: list[np.ndarray], hear: Hear, *, chunks: int) -> float | None:
    """The share of chunks where both speakers' speech lies (each at least CHECK_EACH_S) in
    which `hear` hears a second voice for at least CHECK_SECOND_S, each chunk weighted by the
    lesser speaker's speech in it; at most `chunks` of them, spread evenly over the candidates.
    None when no chunk holds both."""
    end = max(p[-1, 1] for p in parts)
    starts = np.arange(0.0, max(end - CHECK_CHUNK_S, 0.0) + 1e-9, CHECK_HOP_S)
    spans = np.stack([starts, starts + CHECK_CHUNK_S], axis=1)
    each = np.array([[total_s(intersection(p, span[np.newaxis])) for p in parts] for span in spans])   # (spans, 2)
    candidates = np.flatnonzero(each.min(axis=1) >= CHECK_EACH_S)
    if len(candidates) == 0:
        return None
    picked = candidates[np.unique(np.round(np.linspace(0, len(candidates) - 1, min(chunks, len(candidates)))).astype(int))]
    heard = np.asarray(hear(starts[picked], CHECK_CHUNK_S))
    weight = each[picked].min(axis=1)
    return float(np.sum(weight * (heard[:, 1] >= CHECK_SECOND_S)) / np.sum(weight))


def split_by_speaker(utterances, speech: tuple[np.ndarray, ...]) -> list[list[Utterance]]:
    """What each speaker said: every word goes to the speaker whose speech holds its middle (the
    nearest speech when none does), and an utterance is cut where its words change speaker."""
    found: list[list[Utterance]] = [[] for _ in speech]
    for u in utterances:
        if not u.words:
            found[_speaker_at((u.start_s + u.end_s) / 2, speech)].append(u)
            continue
        groups: list[tuple[int, list]] = []
        for word in u.words:
            who = _speaker_at((word.start_s + word.end_s) / 2, speech)
            if groups and groups[-1][0] == who:
                groups[-1][1].append(word)
            else:
                groups.append((who, [word]))
        for who, words in groups:
            found[who].append(Utterance(u.party, words[0].start_s, words[-1].end_s, " ".join(w.text for w in words),
                                        u.avg_logprob, u.language, tuple(words)))
    return found


def _speaker_at(time_s: float, speech: tuple[np.ndarray, ...]) -> int:
    distances = [np.min(np.maximum(s[:, 0] - time_s, 0) + np.maximum(time_s - s[:, 1], 0)) if len(s) else np.inf
                 for s in speech]
    return int(np.argmin(distances))


def speech_windows(speech: np.ndarray, *, window_s: float, hop_s: float, min_s: float) -> np.ndarray:
    """Windows of window_s every hop_s inside each speech interval; an interval shorter than a
    window is one window of its own length when it lasts min_s or more, else none."""
    out = []
    for start, end in np.asarray(speech, dtype=np.float64).reshape(-1, 2):
        length = end - start
        if length < min_s:
            continue
        if length <= window_s:
            out.append((start, end))
            continue
        starts = np.arange(start, end - window_s + 1e-9, hop_s)
        out += [(s, s + window_s) for s in starts]
        if end - (starts[-1] + window_s) > 1e-6:   # the tail, as a window ending at the interval's end
            out.append((end - window_s, end))
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def two_clusters(vectors: np.ndarray, *, pruning: float) -> np.ndarray:
    """Labels 0/1 of L2-normalised vectors by spectral clustering with k = 2: cosine affinities,
    each row keeping its `pruning` share of strongest links (at least 6), symmetrised; the two
    smallest eigenvectors of the graph Laplacian, split by k-means. At most MAX_CLUSTERED
    vectors are clustered, evenly spaced; the others join the nearer cluster centroid."""
    n = len(vectors)
    chosen = np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(int)
    subset = vectors[chosen]
    affinity = subset @ subset.T
    keep = max(6, int(round(pruning * len(subset))))
    if keep < len(subset):
        weakest = np.argsort(affinity, axis=1)[:, : len(subset) - keep]
        np.put_along_axis(affinity, weakest, 0.0, axis=1)
    affinity = np.clip(0.5 * (affinity + affinity.T), 0.0, None)
    np.fill_diagonal(affinity, 0.0)
    laplacian = np.diag(affinity.sum(axis=1)) - affinity
    _, vecs = np.linalg.eigh(laplacian)
    sub_labels = _kmeans_two(vecs[:, :2])
    centroids = np.stack([_unit(subset[sub_labels == k].mean(axis=0)) if np.any(sub_labels == k)
                          else np.zeros(subset.shape[1]) for k in (0, 1)])
    labels = np.argmax(vectors @ centroids.T, axis=1)
    labels[chosen] = sub_labels
    return labels


def _kmeans_two(points: np.ndarray, *, rounds: int = 50) -> np.ndarray:
    """k-means with k = 2, seeded with the point farthest from the mean and the point farthest
    from that one: deterministic, no random state."""
    first = np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1))
    second = np.argmax(np.linalg.norm(points - points[first], axis=1))
    centres = points[[first, second]].astype(np.float64)
    labels = None
    for _ in range(rounds):
        nearest = np.argmin(np.linalg.norm(points[:, None, :] - centres[None], axis=2), axis=1)
        if labels is not None and np.array_equal(nearest, labels):
            break
        labels = nearest
        for k in (0, 1):
            if np.any(labels == k):
                centres[k] = points[labels == k].mean(axis=0)
    return labels


def _label_frames(speech: np.ndarray, windows: np.ndarray, labels: np.ndarray, *,
                  min_turn_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The FRAME_S frames of speech (starts, ends), the stretch of speech (row of `speech`) each
    lies in, and each one's speaker: voted on by the windows covering them,
    each vote weighted by nearness to its window's middle;
    frames no window covers take their nearest voted frame's speaker; inside one stretch of
    speech, a speaker's run shorter than min_turn_s joins its longer neighbour (a run that is a
    whole stretch of speech, a short reply after a pause, stays)."""
    frames = np.concatenate([np.arange(s, e, FRAME_S) for s, e in speech]) if len(speech) else np.zeros(0)
    centres = frames + FRAME_S / 2
    votes = np.zeros((len(frames), 2))
    order = np.argsort(windows[:, 0])
    windows, labels = windows[order], labels[order]
    for (start, end), label in zip(windows, labels):
        a, b = np.searchsorted(centres, start), np.searchsorted(centres, end)
        # A window speaks loudest at its middle: where two windows of different speakers overlap,
        # the frame goes to the one whose middle is nearer.
        half = (end - start) / 2
        votes[a:b, label] += 1.0 - np.abs(centres[a:b] - (start + half)) / (half + FRAME_S)
    voted = votes.sum(axis=1) > 0
    speaker = np.argmax(votes, axis=1)
    if not np.all(voted):
        known = np.flatnonzero(voted)
        at = np.searchsorted(centres[known], centres)
        left, right = known[np.clip(at - 1, 0, len(known) - 1)], known[np.clip(at, 0, len(known) - 1)]
        nearest = np.where(np.abs(centres[left] - centres) <= np.abs(centres[right] - centres), left, right)
        speaker[~voted] = speaker[nearest[~voted]]
    interval = np.searchsorted(speech[:, 0], frames, side="right") - 1
    for k in range(len(speech)):
        inside = np.flatnonzero(interval == k)
        speaker[inside] = _smoothed(speaker[inside], min_frames=int(round(min_turn_s / FRAME_S)))
    ends = np.minimum(frames + FRAME_S, speech[interval, 1])
    return frames, ends, interval, speaker


def _refined_changes(frames: np.ndarray, stretch: np.ndarray, speaker: np.ndarray, speech: np.ndarray,
                     centroids: np.ndarray, *, embed: Embed, options: DiarizeOptions) -> np.ndarray:
    """Each change of speaker inside unbroken speech moved to where short windows around it
    change voice. The clustering windows (1.5 s every 0.75 s) place a change only to within
    about half a window, and a quick reply's first words then go to the speaker it answers.
    Around each change, windows of refine_window_s every refine_step_s within refine_reach_s
    (not past the neighbouring changes or the stretch of speech) are each scored by how much
    nearer the earlier speaker's centroid they are than the later's; the change goes where the
    scores before it are most for the earlier speaker and those after it most for the later."""
    changes = np.flatnonzero((np.diff(speaker) != 0) & (np.diff(stretch) == 0)) + 1
    if len(changes) == 0:
        return speaker
    half = options.refine_window_s / 2
    plans, windows = [], []
    for n, i in enumerate(changes):
        start, end = speech[stretch[i]]
        lo = max(frames[i] - options.refine_reach_s, start + half, frames[changes[n - 1]] if n else -np.inf)
        hi = min(frames[i] + options.refine_reach_s, end - half, frames[changes[n + 1]] if n + 1 < len(changes) else np.inf)
        centres = np.arange(lo, hi + 1e-9, options.refine_step_s)
        if len(centres) < 2:
            continue
        plans.append((i, centres, len(windows)))
        windows += [(c - half, c + half) for c in centres]
    if not plans:
        return speaker
    vectors = np.asarray(embed(np.array(windows)), dtype=np.float64)
    nearer = vectors @ centroids.T
    speaker = speaker.copy()
    for i, centres, first in plans:
        before, after = speaker[i - 1], speaker[i]
        score = nearer[first: first + len(centres), before] - nearer[first: first + len(centres), after]
        # Change at boundary b (between centres b-1 and b): the earlier speaker's evidence before
        # it less the later's after, score[:b].sum() - score[b:].sum(), for every b at once.
        before_b = np.concatenate([[0.0], np.cumsum(score)])
        b = int(np.argmax(2 * before_b - before_b[-1]))
        if b == 0 or b == len(centres):
            continue   # the short windows do not see both voices here: keep the change where it was
        at = (centres[b - 1] + centres[b]) / 2
        same_stretch = stretch == stretch[i]
        if at < frames[i]:
            speaker[same_stretch & (frames >= at) & (frames < frames[i])] = after
        else:
            speaker[same_stretch & (frames >= frames[i]) & (frames < at)] = before
    return speaker


def _smoothed(labels: np.ndarray, *, min_frames: int) -> np.ndarray:
    """Runs shorter than min_frames joined to their longer neighbour, shortest first, until every
    run is long enough or the stretch is one run."""
    labels = labels.copy()
    while True:
        edges = np.flatnonzero(np.diff(labels)) + 1
        starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])
        lengths = ends - starts
        if len(starts) < 2 or lengths.min() >= min_frames:
            return labels
        k = int(np.argmin(lengths))
        neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(starts)]
        into = max(neighbours, key=lambda j: lengths[j])
        labels[starts[k]:ends[k]] = labels[starts[into]]


def _runs(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Touching frames joined into intervals."""
    if len(starts) == 0:
        return np.zeros((0, 2))
    return bridge_gaps(np.column_stack([starts, ends]), max_gap_s=1e-6)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector
