"""The skeletons of ``glyphs@2`` and ``glyphs@3`` (:mod:`.handwriting`): how each digit is written, and how its strokes
are sampled.

Per digit, its allographs (the ways people write it) as strokes through control points, weighted by how often
MNIST's writers use each (matched to which allograph MNIST's test digits are nearest), and the digit's habits: how
MNIST's writers of it differ from the average (slant, width, ink, how straight).
"""

from __future__ import annotations

import numpy as np

from .glyphs import _Style as Style
from .glyphs import _style as style
from .glyphs import stroke_segments

__all__ = ["ALLOGRAPHS", "ALLOGRAPHS_3", "CLASS_HABITS", "SAMPLINGS", "SAMPLINGS_3", "StrokeSampling"]

_BOX = 20.0  # px per unit of the box, as MNIST's 20 px box: sets how densely strokes are sampled
SAMPLE_STEP = 0.7  # nominal distance between stroke samples, px
END_SAMPLES = 6  # samples over which a stroke's ends get lighter (the pen landing and lifting)

# The allographs: (weight, strokes) per digit, in a unit-high box (y down), points in hundredths; strokes are
# separated by "|" and meet at shared points (corners). The last point of an open stroke is its pen lift: the
# _CLOSE draw pulls it back or pushes it on, which opens or overshoots loops.
ALLOGRAPHS: dict[int, tuple[Style, ...]] = {
    0: (
        style(1.12, "52,2 22,10 4,45 12,85 40,100 68,88 78,50 70,14 50,2"),
        style(0.69, "58,8 34,0 10,15 2,52 14,88 42,100 68,86 76,48 64,10 40,4"),  # overshoots the start
        style(0.36, "46,4 18,16 4,54 16,90 44,100 70,82 74,44 62,12 54,6"),  # left open at the top
        style(0.43, "60,2 30,4 8,30 4,66 22,96 50,98 70,70 72,30 58,6 40,8"),  # pointed at the top
    ),
    1: (
        style(1.58, "40,0 38,50 35,100"),
        style(0.27, "42,0 40,40 36,70 30,100"),  # bowed
        style(0.05, "20,18 40,0 | 40,0 38,50 35,100"),  # flag
        style(0.05, "20,18 40,0 | 40,0 38,50 35,100 | 15,100 35,100 55,100"),  # flag and base
    ),
    2: (
        style(0.96, "4,22 24,2 54,0 70,16 64,40 40,66 2,100 | 2,100 44,97 92,98"),
        style(0.45, "4,20 26,0 56,0 70,18 60,44 36,68 12,88 6,98 16,102 28,92 20,82 8,92 26,98 56,98 90,96"),  # loop
        style(0.26, "10,22 36,0 62,8 66,34 44,62 14,92 | 14,92 6,100 30,96 | 30,96 60,98 86,96"),  # curl
        style(0.76, "10,14 36,0 62,10 60,36 4,100 | 4,100 50,98 92,100"),  # angular, like an L below
        style(0.25, "2,16 26,0 56,2 66,20 50,48 20,80 8,94 16,98 | 16,98 50,92 86,100"),  # small curl, long tail
        style(0.05, "8,20 28,0 58,0 72,16 64,36 44,54 20,70 4,86 14,100 36,98 42,80 28,70 14,82 24,98 56,98 88,96"),
        style(0.19, "8,22 30,2 58,2 70,20 64,42 44,60 18,76 6,92 18,102 44,98 56,84 48,70 30,76 26,92 46,100 80,98"),
        style(1.20, "10,20 34,0 62,4 72,24 66,46 46,64 18,78 6,92 16,102 40,100 58,86 64,70 76,62 88,62"),  # like a d
        style(0.4, "8,18 28,2 50,4 56,24 44,50 24,76 6,100 | 6,100 34,98 60,100"),  # narrow
    ),
    3: (
        style(0.29, "6,14 34,0 62,10 62,32 34,46 | 34,46 66,58 70,84 44,100 4,90"),
        style(0.38, "4,12 36,0 64,12 56,36 30,48 58,54 72,76 58,96 28,100 2,88"),  # one stroke
        style(0.12, "6,2 64,2 | 64,2 32,42 | 32,42 66,58 66,88 36,100 2,88"),  # flat top
        style(0.84, "2,8 30,0 58,4 64,22 44,42 24,46 | 24,46 54,52 70,72 60,94 30,100 4,92"),  # big bowl
        style(0.84, "8,6 38,0 62,8 56,28 30,44 | 30,44 60,46 | 60,46 68,70 52,94 24,100 2,90"),  # pointed middle
        style(0.71, "4,4 34,0 62,4 64,14 50,32 32,44 56,52 70,72 60,94 30,100 4,90"),  # flat top, round corner
    ),
    4: (
        style(0.63, "14,0 4,58 | 4,58 44,60 84,56 | 62,8 60,55 58,100"),  # open: L and a stem
        style(0.08, "58,0 2,66 | 2,66 44,66 82,64 | 58,0 58,50 56,100"),  # closed, a triangle
        style(1.19, "20,0 6,40 10,58 | 10,58 40,58 80,54 | 66,0 62,50 60,100"),  # open, rounded corner
        style(0.29, "30,0 12,52 | 12,52 40,54 70,52 | 52,2 52,50 50,100"),  # narrow
    ),
    5: (
        style(1.40, "72,0 16,2 | 16,2 10,50 | 10,50 40,42 68,58 70,84 44,100 2,92"),
        style(0.38, "16,0 10,44 | 10,44 40,36 68,52 70,80 44,100 2,90 | 16,0 76,2"),  # bar drawn last
        style(0.12, "70,0 20,4 | 20,4 12,48 | 12,48 50,40 70,64 56,92 28,100 4,86"),  # round belly
        style(0.4, "78,0 20,2 | 20,2 14,46 | 14,46 38,42 56,58 56,82 38,100 6,92"),  # long bar, small belly
    ),
    6: (
        style(0.79, "64,0 36,18 12,46 4,74 16,96 42,100 62,86 60,64 40,56 12,68"),
        style(1.15, "56,0 26,30 8,62 10,88 32,100 58,92 62,70 42,58 16,70"),  # straight stem
        style(0.14, "70,4 40,10 16,36 4,70 18,96 46,98 62,80 52,58 24,62 10,80"),  # curled top
        style(0.39, "50,0 30,30 16,60 14,84 28,100 48,96 52,78 36,68 16,78"),  # small loop, long stem
        style(0.26, "46,0 26,34 14,66 18,92 36,100 54,90 50,70 30,66 14,76"),  # upright, small loop
        style(0.90, "30,0 16,30 10,62 14,90 34,100 58,92 64,74 48,58 24,60 12,72"),  # upright stem, wide loop
    ),
    7: (
        style(0.74, "2,4 78,2 | 78,2 56,46 42,100"),
        style(0.21, "4,14 6,2 | 6,2 44,4 82,0 | 82,0 60,48 48,100"),  # hook at the start of the bar
        style(0.08, "2,6 80,4 | 80,4 66,30 52,64 46,100"),  # straight stem
        style(0.19, "2,4 78,2 | 78,2 60,46 50,100 | 40,54 60,52 78,50"),  # crossbar
        style(0.10, "2,4 78,2 | 78,2 58,34 46,66 44,100"),  # stem curving down
        style(1.80, "6,8 40,2 74,4 | 74,4 64,40 56,70 54,100"),  # short bar, steep stem
        style(0.21, "2,2 60,4 80,0 | 80,0 62,30 44,62 30,100"),  # long diagonal
        style(0.77, "6,34 4,16 8,2 | 8,2 46,4 82,2 | 82,2 62,46 50,100"),  # long tick down at the left
        style(0.05, "34,36 12,12 8,2 | 8,2 48,4 84,2 | 84,2 60,48 48,100"),  # tick reaching the stem
        style(0.29, "10,4 60,2 | 60,2 46,50 38,100 | 24,52 46,50 66,48"),  # narrow, crossbar
        style(0.26, "16,4 62,2 | 62,2 50,50 42,100"),  # narrow
    ),
    8: (
        style(0.35, "66,10 38,0 12,10 14,34 40,50 66,68 62,92 36,100 8,90 10,68 40,50 62,32 66,10"),
        style(0.65, "60,14 36,0 12,12 18,34 44,52 64,74 56,96 28,98 10,80 24,60 46,48 60,30 64,6"),  # open top
        style(0.05, "38,46 14,32 16,8 40,0 62,10 60,32 38,46 | 38,46 68,62 66,92 36,100 6,90 8,62 38,46"),
        style(0.25, "56,10 36,0 18,8 20,28 38,42 58,62 56,90 34,100 14,88 18,64 38,42 52,24 56,6"),  # small top
        style(0.62, "64,10 40,0 14,8 16,28 40,46 62,64 62,90 38,100 12,90 14,70 | 14,70 38,46 64,8"),  # S, then back
        style(1.49, "60,14 36,0 12,10 12,32 36,50 56,62 58,84 44,100 30,94 32,74 40,50 58,30 62,12"),  # narrow below
    ),
    9: (
        style(1.34, "66,16 40,0 10,8 4,30 28,46 58,38 66,16 | 66,16 64,58 60,100"),
        style(0.33, "64,12 36,0 8,14 8,36 34,44 62,30 66,8 | 66,8 64,54 52,100"),  # slanted stem
        style(0.26, "66,16 40,0 10,10 6,32 30,44 60,36 66,16 | 66,16 66,62 52,92 26,100"),  # hooked tail
        style(0.27, "60,10 36,0 14,10 14,30 36,38 58,26 60,8 | 60,8 56,50 50,100"),  # small loop
        style(0.22, "62,4 30,2 8,22 28,40 60,20 | 60,20 62,4 | 62,4 58,54 56,100"),  # angular loop
        style(1.06, "56,6 32,0 8,12 8,34 32,42 58,30 | 64,0 62,50 58,100"),  # loop open, stem apart
        style(0.4, "64,10 44,0 20,6 14,24 30,36 56,26 64,10 | 64,10 58,56 48,100"),  # small loop, stem leaning
    ),
}


# The skeletons glyphs@3's shape model was fitted with (``shapes3.json``): glyphs@2's, a few redrawn so that they read
# as their digit when varied (the narrow 4 wider with a longer bar, the 6s starting less far right, the 8 "narrow
# below" wider below) and more crossed 7s. The weights here only draw the glyphs MNIST's digits are matched to when
# the shape model is fitted; glyphs@3 weighs each allograph by the number of digits matched to it.
ALLOGRAPHS_3: dict[int, tuple[Style, ...]] = {
    **ALLOGRAPHS,
    4: (
        *ALLOGRAPHS[4][:3],
        style(0.29, "24,0 10,52 | 10,52 40,54 76,52 | 52,2 52,50 50,100"),  # narrow
    ),
    6: (
        style(0.79, "54,0 32,20 12,46 4,74 16,96 42,100 62,86 60,64 40,56 12,68"),
        style(1.15, "48,0 24,30 8,62 10,88 32,100 58,92 62,70 42,58 16,70"),  # straight stem
        *ALLOGRAPHS[6][2:],
    ),
    7: (
        *ALLOGRAPHS[7][:3],
        style(0.45, "2,4 78,2 | 78,2 60,46 50,100 | 36,54 58,52 78,50"),  # crossbar
        style(0.3, "4,14 6,2 | 6,2 44,4 82,0 | 82,0 62,46 50,100 | 38,58 58,56 76,54"),  # hook and crossbar
        style(0.2, "2,4 78,2 | 78,2 62,40 50,100 | 44,42 64,40 80,38"),  # crossbar high
        *ALLOGRAPHS[7][4:9],
        style(0.45, "10,4 60,2 | 60,2 46,50 38,100 | 24,56 44,54 64,52"),  # narrow, crossbar
        ALLOGRAPHS[7][10],
    ),
    8: (
        *ALLOGRAPHS[8][:5],
        style(1.49, "60,14 36,0 14,10 14,32 36,50 58,62 64,84 48,100 26,94 26,74 40,50 58,30 62,12"),  # narrow below
    ),
}


class StrokeSampling:
    """How an allograph's strokes are sampled: each sample is a weighted sum of 4 control points.

    Attributes:
        taps: ``(4, P)`` indices into the control points. weights: ``(4, P)`` Catmull-Rom basis weights.
        prev, next: ``(P,)`` neighbouring samples along the stroke (at an open end: ``next`` is the sample itself,
            ``prev`` the other end, whose step to its ``next`` is 0); half the distance to each is a sample's arc.
        ends: ``(P,)`` 1 at an open stroke's first and last sample, falling to 0 over END_SAMPLES samples.
        along: ``(P,)`` position along the stroke, -1 at its start to 1 at its end.
        lifts: ``(2, L)`` per open stroke, its last control point and the one before (the pen lift's direction).
    """

    def __init__(self, style: Style) -> None:
        taps, weights, prev, nxt, ends, along, lifts = [], [], [], [], [], [], []
        for stroke in style.strokes:
            closed = len(stroke) > 2 and stroke[0] == stroke[-1]
            ids = list(stroke[:-1] if closed else stroke)
            if not closed:
                lifts.append((ids[-1], ids[-2]))
            start = sum(len(w) for w in weights)
            for quad, w in stroke_segments(style, ids, closed, _BOX, SAMPLE_STEP):
                taps.append(np.broadcast_to(quad, (len(w), 4)))
                weights.append(w)
            count = sum(len(w) for w in weights) - start
            pos = np.arange(count)
            prev.append(start + (pos - 1) % count)
            nxt.append(start + ((pos + 1) % count if closed else np.minimum(pos + 1, count - 1)))
            from_end = np.minimum(pos, count - 1 - pos)
            ends.append(np.zeros(count) if closed else np.clip(1 - from_end / END_SAMPLES, 0, 1) ** 2)
            along.append(2 * pos / max(count - 1, 1) - 1)
        self.taps = np.ascontiguousarray(np.concatenate(taps).T, dtype=np.intp)
        self.weights = np.ascontiguousarray(np.concatenate(weights).T, dtype=np.float32)
        self.prev, self.next = np.concatenate(prev), np.concatenate(nxt)
        self.ends = np.concatenate(ends).astype(np.float32)
        self.along = np.concatenate(along).astype(np.float32)
        self.lifts = np.array(lifts, np.intp).reshape(-1, 2).T


SAMPLINGS = {d: tuple(StrokeSampling(s) for s in styles) for d, styles in ALLOGRAPHS.items()}
SAMPLINGS_3 = {d: tuple(StrokeSampling(s) for s in styles) for d, styles in ALLOGRAPHS_3.items()}

# Per digit, how MNIST's writers differ from the average (measured on its test digits): a slant offset, an aspect
# factor and an ink factor (2s and 5s are written wider, 6s more upright, 8s with less ink than 0s...).
CLASS_HABITS = {  # (slant offset, aspect factor, ink factor, bow factor)
    0: (0.05, 1.06, 1.15, 1.0),
    1: (0.0, 1.1, 1.4, 0.3),
    2: (-0.13, 1.1, 1.12, 1.0),
    3: (-0.08, 1.0, 1.12, 1.0),
    4: (0.1, 0.94, 1.0, 1.0),
    5: (0.16, 1.1, 1.0, 1.0),
    6: (-0.16, 1.2, 1.1, 1.0),
    7: (-0.04, 1.06, 1.12, 0.6),
    8: (-0.02, 1.07, 0.92, 1.0),
    9: (0.08, 0.93, 0.97, 1.0),
}
