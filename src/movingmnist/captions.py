"""Text captions of a sequence, computed from its latents and its event table (never from pixels).

Two styles (:func:`caption` dispatches on the name):

- ``"template"`` (:func:`template_caption`): the captioned Moving MNIST of Sync-DRAW (Mittal et al. 2017) and of
  Marwah et al. 2017, one clause per object in slot order joined with " and ", e.g.
  ``"digit 6 is moving up and down and digit 3 is moving left and right"``.
- ``"events"`` (:func:`event_caption`): one sentence per object, in order of first appearance, telling how it
  arrives, how it moves, its wall contacts, the objects it passes behind, its collisions and when it leaves.

Inputs of one sequence: ``labels (K,)`` (-1 unused), ``present (T, K)`` bool (``(K,)`` is broadcast), ``centers``
and ``velocities (T, K, 2)`` (x, y) pixels, NaN where absent, ``events (E, 4)`` (:mod:`movingmnist.events`).
Frames in captions are counted from 0. Datasets store captions as zero-padded UTF-8 (:func:`encode_caption`); the
parsers read captions back so that they can be checked against the arrays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .events import COLLISION, ENTER, EXIT, OCCLUSION_END, OCCLUSION_START, WALL, WALLS

__all__ = ["MOTION_PHRASES", "STILL_SPEED", "STYLES", "Phrase", "caption", "decode_caption", "decode_captions",
           "encode_caption", "encode_captions", "event_caption", "motion_class", "parse_event_caption",
           "parse_template_caption", "template_caption"]

#: Mean speed along both axes (pixels per frame) below which an object counts as not moving.
STILL_SPEED = 0.05
#: Template wording of each motion class ("left and right" / "up and down" are Sync-DRAW's and Marwah et al.'s).
MOTION_PHRASES = {"horizontal": "moving left and right", "vertical": "moving up and down",
                  "diagonal": "moving diagonally", "still": "standing still"}
_PHRASE_MOTIONS = {v: k for k, v in MOTION_PHRASES.items()}
EMPTY_TEMPLATE, EMPTY_EVENTS, ELLIPSIS = "there is no digit", "The scene is empty.", b"..."


# -- inputs ------------------------------------------------------------------------------------------------------------
def _present_tk(present: np.ndarray, t: int, k: int) -> np.ndarray:
    """``present`` as ``(T, K)`` bool: a ``(K,)`` array (one flag per slot for the whole sequence) is broadcast."""
    present = np.asarray(present, dtype=bool)
    return np.broadcast_to(present, (t, k)) if present.ndim == 1 else present


def _name(c: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[c]) if class_names is not None and 0 <= c < len(class_names) else str(c)


def _axis_speeds(velocities: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean ``|vx|, |vy|`` of each slot over the frames it is present with a finite velocity: ``(K, 2)``."""
    v = np.abs(np.asarray(velocities, dtype=np.float64))
    ok = present[..., None] & np.isfinite(v)
    count = ok.sum(axis=0)
    return np.where(ok, v, 0.0).sum(axis=0) / np.maximum(count, 1)


def motion_class(speed_x: float, speed_y: float, *, diagonal: float | None = None) -> str:
    """"still", "horizontal", "vertical" or "diagonal" from the mean absolute speed along x and y.

    Still when both are below :data:`STILL_SPEED`; else the dominant axis (a tie goes to horizontal), unless
    ``diagonal`` is given and the smaller speed is at least ``diagonal`` times the larger one.
    """
    big, small = max(speed_x, speed_y), min(speed_x, speed_y)
    if big < STILL_SPEED:
        return "still"
    if diagonal is not None and small >= diagonal * big:
        return "diagonal"
    return "horizontal" if speed_x >= speed_y else "vertical"


# -- template style ----------------------------------------------------------------------------------------------------
def _template_subject(name: str) -> str:
    # Sync-DRAW / Marwah say "digit 6"; other banks' classes read "the Sneaker".
    return f"digit {name}" if name.isdigit() else f"the {name}"


def template_caption(
    labels: np.ndarray,
    centers: np.ndarray,
    velocities: np.ndarray,
    present: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    diagonal: float | None = None,
) -> str:
    """The Sync-DRAW / Marwah et al. caption: ``"digit 6 is moving up and down and digit 3 is moving left and right"``.

    One clause per slot with a label that is present in some frame, in slot order, joined with " and ". The
    direction is the dominant axis of the mean absolute velocity over the frames where the object is present
    (:func:`motion_class`): "moving left and right" or "moving up and down" (a tie reads left and right), "standing
    still" when it does not move, and "moving diagonally" only when ``diagonal`` is given (e.g. 0.5: the slower axis
    at least half the faster). No object: ``"there is no digit"``.

    Args:
        labels: ``(K,)`` class of each slot, -1 unused.
        centers: ``(T, K, 2)`` (unused by this style; accepted so both styles take the same arrays).
        velocities: ``(T, K, 2)`` (x, y) pixels per frame, NaN where absent.
        present: ``(T, K)`` or ``(K,)`` bool.
        class_names: name of each class id (default ``str(label)``).
        diagonal: ratio of the slower to the faster axis from which motion reads "diagonally" (default: never).
    """
    del centers  # the template speaks of directions only
    labels, velocities = np.asarray(labels), np.asarray(velocities)
    t, k = velocities.shape[:2]
    present = _present_tk(present, t, k)
    speeds = _axis_speeds(velocities, present)
    clauses = []
    for slot in range(k):
        if labels[slot] < 0 or not present[:, slot].any():
            continue
        motion = motion_class(float(speeds[slot, 0]), float(speeds[slot, 1]), diagonal=diagonal)
        clauses.append(f"{_template_subject(_name(int(labels[slot]), class_names))} is {MOTION_PHRASES[motion]}")
    return " and ".join(clauses) if clauses else EMPTY_TEMPLATE


_MOTIONS = "|".join(MOTION_PHRASES.values())
_TEMPLATE_CLAUSE = re.compile(r"(?:digit (?P<digit>\S+)|the (?P<name>.+?)) is (?P<motion>" + _MOTIONS + ")")


def parse_template_caption(text: str) -> list[tuple[str, str]]:
    """The ``(class name, motion)`` of each clause of a template caption, in order; motion is one of
    "horizontal", "vertical", "diagonal", "still". Raises ValueError on text that is not a template caption."""
    if text == EMPTY_TEMPLATE:
        return []
    out, pos = [], 0
    while True:
        m = _TEMPLATE_CLAUSE.match(text, pos)
        if m is None:
            raise ValueError(f"not a template caption at character {pos}: {text!r}")
        out.append((m.group("digit") or m.group("name"), _PHRASE_MOTIONS[m.group("motion")]))
        pos = m.end()
        if pos == len(text):
            return out
        if not text.startswith(" and ", pos):
            raise ValueError(f"expected ' and ' at character {pos}: {text!r}")
        pos += len(" and ")


# -- events style ------------------------------------------------------------------------------------------------------
class Phrase(NamedTuple):
    """One fact of an event caption, as :func:`parse_event_caption` reads it back.

    ``verb`` and its fields: "start" (frame 0, place: region such as "top left" or "centre"), "enter" (frame,
    place: wall or None when it appears in place), "move" (place: "left and right", "up and down", "left", "right",
    "up", "down", "diagonally", "still"), "bounce" / "reach" (frame, place: wall), "behind" (frame, end: last
    frame or None when still behind at the end, other), "collide" (frame, other), "exit" (frame: first frame
    absent, place: wall or None), "more" (frame: how many more, place: a verb: "bounce", "reach", "behind",
    "collide" or "enter" for re-entries).
    """

    subject: str
    verb: str
    frame: int | None = None
    end: int | None = None
    other: str | None = None
    place: str | None = None


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_MORE_TEXT = {"bounce": "bounces", "reach": "reaches an edge", "behind": "passes behind another object",
              "collide": "collides", "enter": "comes back"}


def _ordinal(n: int) -> str:
    if n <= len(_ORDINALS):
        return _ORDINALS[n - 1]
    suffix = "th" if 10 <= n % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _region(center: np.ndarray, canvas_hw: tuple[int, int]) -> str:
    """Where a centre lies on a 3 x 3 split of the canvas: "top left", "top", "centre", "bottom right", ..."""
    h, w = canvas_hw
    x, y = float(center[0]), float(center[1])
    col = "left" if x < w / 3 else "right" if x > 2 * w / 3 else ""
    row = "top" if y < h / 3 else "bottom" if y > 2 * h / 3 else ""
    return " ".join(p for p in (row, col) if p) or "centre"


def _toward(v: np.ndarray, wall: int) -> np.ndarray:
    """Velocity component toward ``wall`` (positive: moving into it). ``v`` is ``(..., 2)``."""
    return {0: -v[..., 0], 1: -v[..., 1], 2: v[..., 0], 3: v[..., 1]}[wall]


def _bounces(vel: np.ndarray, frame: int, wall: int) -> bool:
    """Whether the motion toward ``wall`` reverses around a contact at ``frame``: moving into it in one of the two
    steps before and away from it in one of the three steps after (``vel`` is one slot's ``(T, 2)``)."""
    before = _toward(vel[max(frame - 2, 0) : frame], wall)
    after = _toward(vel[frame : frame + 3], wall)
    return bool(np.any(before > STILL_SPEED) and np.any(after < -STILL_SPEED))


def _move_place(vel: np.ndarray, present: np.ndarray) -> str:
    """The main motion of one slot: its axis ("left and right" / "up and down"), or one direction when it never
    turns back along that axis, "diagonally" when both axes are about as fast, "still"."""
    speeds = _axis_speeds(vel[:, None], present[:, None])[0]
    motion = motion_class(float(speeds[0]), float(speeds[1]), diagonal=0.5)
    if motion in ("still", "diagonal"):
        return "still" if motion == "still" else "diagonally"
    axis = 0 if motion == "horizontal" else 1
    v = vel[present, axis]
    v = v[np.isfinite(v) & (np.abs(v) > STILL_SPEED)]
    if v.size and (np.all(v > 0) or np.all(v < 0)):
        return (("right", "left"), ("down", "up"))[axis][int(v[0] < 0)]
    return ("left and right", "up and down")[axis]


def _segments(present: np.ndarray) -> list[tuple[int, int]]:
    """``(first, stop)`` frame ranges where one slot is present (``present`` is ``(T,)``)."""
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def _event_phrases(labels: np.ndarray, centers: np.ndarray, velocities: np.ndarray, present: np.ndarray,
                   events: np.ndarray, canvas_hw: tuple[int, int], class_names: Sequence[str] | None,
                   max_events: int) -> list[list[Phrase]]:
    """The phrases of every object, grouped by object in order of first appearance (see :func:`event_caption`)."""
    t, k = velocities.shape[:2]
    slots = [s for s in range(k) if labels[s] >= 0 and present[:, s].any()]
    slots.sort(key=lambda s: (int(np.argmax(present[:, s])), s))
    names = [_name(int(labels[s]), class_names) for s in slots]
    subject = {}
    for i, s in enumerate(slots):
        same = [j for j, n in enumerate(names) if n == names[i]]
        subject[s] = f"the {_ordinal(same.index(i) + 1)} {names[i]}" if len(same) > 1 else f"the {names[i]}"
    rows = [tuple(int(x) for x in r) for r in np.asarray(events).reshape(-1, 4) if r[0] >= 0]
    lookup = {(f, kind, a): b for f, kind, a, b in rows if kind in (ENTER, EXIT)}
    described: set[int] = set()
    grouped = []
    for s in slots:
        who, vel, here = subject[s], velocities[:, s], present[:, s]
        timeline: list[tuple[int, int, Phrase]] = []  # (frame, order, phrase); arrivals and exits kept always
        minor: list[tuple[int, int, Phrase]] = []
        segments = _segments(here)
        for first, stop in segments[:max_events]:  # an object that flickers: the rest are counted
            if first == 0:
                timeline.append((0, 0, Phrase(who, "start", 0, place=_region(centers[0, s], canvas_hw))))
            else:
                wall = lookup.get((first, ENTER, s), -1)
                timeline.append((first, 0, Phrase(who, "enter", first, place=WALLS[wall] if wall >= 0 else None)))
            if stop < t:
                wall = lookup.get((stop, EXIT, s), -1)
                timeline.append((stop, 2, Phrase(who, "exit", stop, place=WALLS[wall] if wall >= 0 else None)))
        for f, kind, a, b in rows:
            if kind == WALL and a == s:
                if (f, ENTER, s) in lookup and lookup[(f, ENTER, s)] == b:
                    continue  # the contact of coming in through that wall
                bounce = _bounces(vel, f, b)
                stop = next((e for g, e in segments if g <= f < e), t)
                if not bounce and stop < t and lookup.get((stop, EXIT, s), -1) == b:
                    continue  # the contact of leaving through that wall, said by the exit
                minor.append((f, 1, Phrase(who, "bounce" if bounce else "reach", f, place=WALLS[b])))
            elif kind == OCCLUSION_START and b == s and a in subject:
                ends = [g for g, kd, aa, bb in rows if kd == OCCLUSION_END and (aa, bb) == (a, s) and g > f]
                # Without an end event the overlap ends anyway when either object leaves.
                gone = [f + int(np.argmin(present[f:, x])) for x in (a, s) if not present[f:, x].all()]
                end = min(ends + gone, default=None)
                minor.append((f, 1, Phrase(who, "behind", f, None if end is None else end - 1, other=subject[a])))
            elif kind == COLLISION and s in (a, b) and a in subject and b in subject:
                other = b if s == a else a
                if other not in described:  # each collision once, with the object described first
                    minor.append((f, 1, Phrase(who, "collide", f, other=subject[other])))
        described.add(s)
        kept, dropped = minor[:max_events], minor[max_events:]
        phrases = [p for _, _, p in sorted(timeline + kept, key=lambda x: (x[0], x[1]))]
        phrases.insert(1, Phrase(who, "move", place=_move_place(vel, here)))
        dropped += [(0, 0, Phrase(who, "enter"))] * max(len(segments) - max_events, 0)
        for verb in _MORE_TEXT:
            count = sum(p.verb == verb for _, _, p in dropped)
            if count:
                phrases.append(Phrase(who, "more", count, place=verb))
        grouped.append(phrases)
    return grouped


def _phrase_text(p: Phrase) -> str:
    at = f"at frame {p.frame}"
    if p.verb == "start":
        return "starts in the centre" if p.place == "centre" else f"starts at the {p.place}"
    if p.verb == "enter":
        return f"enters from the {p.place} {at}" if p.place else f"appears {at}"
    if p.verb == "move":
        return "stays still" if p.place == "still" else f"moves {p.place}"
    if p.verb in ("bounce", "reach"):
        return f"bounces off the {p.place} wall {at}" if p.verb == "bounce" else f"reaches the {p.place} edge {at}"
    if p.verb == "behind":
        if p.end is None:
            return f"passes behind {p.other} from frame {p.frame} on"
        if p.end == p.frame:
            return f"passes behind {p.other} {at}"
        return f"passes behind {p.other} from frame {p.frame} to {p.end}"
    if p.verb == "collide":
        return f"collides with {p.other} {at}"
    if p.verb == "exit":
        return f"leaves through the {p.place} {at}" if p.place else f"disappears {at}"
    return f"{_MORE_TEXT[p.place]} {p.frame} more {'time' if p.frame == 1 else 'times'}"  # "more"


def _sentence(phrases: list[Phrase]) -> str:
    parts = [_phrase_text(p) for p in phrases]
    # Re-entries read "comes back": the second arrival of the same object.
    arrivals = [i for i, p in enumerate(phrases) if p.verb in ("start", "enter")]
    for i in arrivals[1:]:
        parts[i] = parts[i].replace("enters from", "comes back from").replace("appears", "reappears")
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    text = f"{phrases[0].subject} {body}."
    return text[0].upper() + text[1:]


def event_caption(
    labels: np.ndarray,
    centers: np.ndarray,
    velocities: np.ndarray,
    present: np.ndarray,
    events: np.ndarray,
    *,
    canvas_hw: tuple[int, int],
    class_names: Sequence[str] | None = None,
    max_events: int = 4,
) -> str:
    """A free description from the event table and the latents, one sentence per object, e.g.
    ``"The 3 enters from the left at frame 2, moves right, bounces off the bottom wall at frame 7 and passes behind
    the 5 from frame 12 to 15."``

    Per object, in order of first appearance (two objects of one class are "the first 3", "the second 3"): its
    arrival ("starts at the top left" from its centre at frame 0 on a 3 x 3 split of the canvas; "enters from the
    left at frame f", or "appears at frame f" without a wall; a later arrival "comes back from" / "reappears"), its
    main motion ("moves left and right" / "up and down" on the dominant axis, "moves right" when it never turns
    back, "moves diagonally" when the slower axis is at least half the faster, "stays still"), then in frame order
    its wall contacts ("bounces off the bottom wall at frame 7" when its velocity toward that wall reverses around
    the contact, else "reaches the left edge at frame 7"; the contact of entering or leaving through a wall is left
    to the arrival and exit), the objects it passes behind (its amodal box overlaps one in front: "from frame 12 to
    15", the last overlapping frame, or "from frame 12 on" when still overlapping at the end), collisions (told
    once, by the object described first) and exits ("leaves through the right at frame 30", "disappears at frame
    30": the first frame it is absent). Past ``max_events`` contacts, occlusions and collisions the rest are counted
    ("and bounces 4 more times"), and so are arrivals past the ``max_events``-th ("comes back 3 more times").
    Arrivals and exits come from ``present``; the event table gives their walls, so an all -1 table still gives a
    caption.

    Args:
        labels: ``(K,)`` class of each slot, -1 unused.
        centers: ``(T, K, 2)`` (x, y) pixels, NaN where absent.
        velocities: ``(T, K, 2)`` centre at t+1 minus at t, NaN where absent.
        present: ``(T, K)`` or ``(K,)`` bool.
        events: ``(E, 4)`` int rows ``(frame, kind, a, b)`` (:mod:`movingmnist.events`), unused rows -1.
        canvas_hw: ``(H, W)`` of the canvas in pixels.
        class_names: name of each class id (default ``str(label)``).
        max_events: contacts, occlusions and collisions told per object before the rest are counted.
    """
    labels = np.asarray(labels)
    centers, velocities = np.asarray(centers, dtype=np.float64), np.asarray(velocities, dtype=np.float64)
    t, k = velocities.shape[:2]
    present = _present_tk(present, t, k)
    grouped = _event_phrases(labels, centers, velocities, present, events, canvas_hw, class_names, max_events)
    return " ".join(_sentence(g) for g in grouped) if grouped else EMPTY_EVENTS


# "the 5", "the second 3": a name never spans a clause's separators or frame words (else it could run on).
_NAME = r"the (?:(?!, | and | at frame | from frame |\. ).)+?"
_FRAME = r"(?:at )?frame (?P<f>\d+)"
_EVENT_CLAUSES = [
    ("start", re.compile(r"starts (?:at|in) the (?P<place>top left|top right|bottom left|bottom right|top|bottom|"
                         r"left|right|centre)")),
    ("enter", re.compile(r"(?:enters|comes back) from the (?P<place>left|top|right|bottom) " + _FRAME)),
    ("enter", re.compile(r"(?:appears|reappears) " + _FRAME)),
    ("move", re.compile(r"moves (?P<place>left and right|up and down|diagonally|left|right|up|down)")),
    ("move", re.compile(r"stays (?P<place>still)")),
    ("bounce", re.compile(r"bounces off the (?P<place>left|top|right|bottom) wall " + _FRAME)),
    ("reach", re.compile(r"reaches the (?P<place>left|top|right|bottom) edge " + _FRAME)),
    ("behind", re.compile(r"passes behind (?P<other>" + _NAME + r") from frame (?P<f>\d+) (?:to (?P<end>\d+)|on)")),
    ("behind", re.compile(r"passes behind (?P<other>" + _NAME + r") at frame (?P<f>\d+)")),
    ("collide", re.compile(r"collides with (?P<other>" + _NAME + ") " + _FRAME)),
    ("exit", re.compile(r"leaves through the (?P<place>left|top|right|bottom) " + _FRAME)),
    ("exit", re.compile(r"disappears " + _FRAME)),
    ("more", re.compile(r"(?P<place>" + "|".join(_MORE_TEXT.values()) + r") (?P<f>\d+) more times?")),
]
_MORE_VERBS = {v: k for k, v in _MORE_TEXT.items()}
_SUBJECT = re.compile(r"The (?P<subject>(?:(?!, | and |\. ).)+?) (?=starts |enters |appears )")
_END_OF_CLAUSE = re.compile(r"(?=, | and |\.(?: |$))")


def _match_clause(text: str, pos: int) -> tuple[str, re.Match[str]]:
    """The verb and match of the clause at ``pos`` (one that ends where a clause may end)."""
    for verb, pattern in _EVENT_CLAUSES:
        c = pattern.match(text, pos)
        if c is not None and _END_OF_CLAUSE.match(text, c.end()):
            return verb, c
    raise ValueError(f"unknown clause at character {pos}: {text!r}")


def parse_event_caption(text: str) -> list[Phrase]:
    """The :class:`Phrase` of every clause of an event caption, in order. Subjects and others read as written
    ("the 3", "the second 3"). Raises ValueError on text that is not an event caption."""
    if text == EMPTY_EVENTS:
        return []
    out: list[Phrase] = []
    pos = 0
    while pos < len(text):
        m = _SUBJECT.match(text, pos)
        if m is None:
            raise ValueError(f"expected a sentence at character {pos}: {text!r}")
        who, pos = "the " + m.group("subject"), m.end()
        while True:
            verb, c = _match_clause(text, pos)
            g = c.groupdict()
            place = g.get("place")
            if verb == "more":
                place = _MORE_VERBS[place]
            end = g.get("end")
            out.append(Phrase(who, verb, int(g["f"]) if g.get("f") else (0 if verb == "start" else None),
                              int(end) if end else None, g.get("other"), place))
            pos = c.end()
            for sep in (", ", " and "):
                if text.startswith(sep, pos):
                    pos += len(sep)
                    break
            else:
                pos += 2 if text.startswith(". ", pos) else 1  # the end of the sentence
                break
    return out


# -- storage -----------------------------------------------------------------------------------------------------------
def encode_caption(text: str, nbytes: int) -> np.ndarray:
    """``text`` as ``(nbytes,)`` uint8: its UTF-8 bytes padded with zeros.

    Text longer than ``nbytes`` bytes is cut at a character boundary and ends with "..." (the cut text plus the
    three dots fit in ``nbytes``; below 3 bytes there is no room for them and the text is only cut). A caption that
    fits exactly is stored without a zero. Text with a NUL character is refused (the zero padding ends a caption).
    """
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    if "\x00" in text:
        raise ValueError("a caption cannot hold a NUL character (zero bytes pad stored captions)")
    data = text.encode("utf-8")
    if len(data) > nbytes:
        room = nbytes - len(ELLIPSIS) if nbytes >= len(ELLIPSIS) else nbytes
        while room > 0 and data[room] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            room -= 1
        data = data[:room] + (ELLIPSIS if nbytes >= len(ELLIPSIS) else b"")
    out = np.zeros(nbytes, dtype=np.uint8)
    out[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def decode_caption(array: np.ndarray) -> str:
    """The text of a caption stored by :func:`encode_caption` (``(nbytes,)`` uint8): the bytes before the first
    zero, decoded as UTF-8 (invalid bytes read as U+FFFD)."""
    data = np.asarray(array, dtype=np.uint8).tobytes()
    return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


def encode_captions(texts: Sequence[str], nbytes: int) -> np.ndarray:
    """:func:`encode_caption` of each text: ``(B, nbytes)`` uint8."""
    rows = [encode_caption(t, nbytes).tobytes() for t in texts]
    if nbytes == 0 or not texts:
        return np.zeros((len(texts), nbytes), dtype=np.uint8)
    # A fixed-width bytes array is zero padded by numpy, and its buffer is the (B, nbytes) table.
    return np.array(rows, dtype=f"S{nbytes}").view(np.uint8).reshape(len(texts), nbytes)


def decode_captions(array: np.ndarray) -> list[str]:
    """:func:`decode_caption` of each row of ``(B, nbytes)`` uint8."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim != 2:
        raise ValueError(f"expected (B, nbytes) uint8, got shape {array.shape}")
    if array.shape[1] == 0:
        return [""] * array.shape[0]
    # numpy drops the trailing zeros of fixed-width bytes; a zero inside a row still ends its caption.
    raw = array.view(f"S{array.shape[1]}").ravel()
    return [r.split(b"\x00", 1)[0].decode("utf-8", errors="replace") for r in raw.tolist()]


# -- dispatch ----------------------------------------------------------------------------------------------------------
STYLES = ("template", "events")


def caption(style: str, sequence: Mapping[str, np.ndarray], *, canvas_hw: tuple[int, int] | None = None,
            class_names: Sequence[str] | None = None, **options) -> str:
    """The caption of one sequence in ``style`` ("template" or "events").

    ``sequence`` maps "labels", "centers", "velocities", "present" and (for "events", optional) "events" to
    the arrays of one sequence (e.g. ``Batch.sequence(i)``); without "events" the table is empty. ``canvas_hw``
    defaults to the last two axes of ``sequence["frames"]``. ``options`` go to the style's function.
    """
    arrays = [np.asarray(sequence[n]) for n in ("labels", "centers", "velocities", "present")]
    if style == "template":
        return template_caption(*arrays, class_names=class_names, **options)
    if style == "events":
        if canvas_hw is None:
            if "frames" not in sequence:
                raise ValueError("the events style needs canvas_hw (or the sequence's frames)")
            canvas_hw = tuple(np.shape(sequence["frames"])[-2:])
        events = sequence.get("events")
        events = np.full((0, 4), -1, np.int32) if events is None else np.asarray(events)
        return event_caption(*arrays, events, canvas_hw=canvas_hw, class_names=class_names, **options)
    raise ValueError(f"unknown caption style {style!r}; choose one of {', '.join(STYLES)}")
