"""Latents: everything random about a sequence, drawn from counter-based streams keyed by (seed, stream, index).

The stages are written once over an array namespace (:mod:`movingmnist.latents.xp`) and run on numpy and on torch
(any device) with the same bits:

- :mod:`~movingmnist.latents.rng`: the random streams and the fixed sin/cos polynomials;
- :mod:`~movingmnist.latents.scene`: object count and glyph choice per sequence;
- :mod:`~movingmnist.latents.motion`: the motion models (top-left positions per frame);
- :mod:`~movingmnist.latents.appearance`: rotation, scale, shear, brightness and colour schedules and the affine
  pose algebra;
- :mod:`~movingmnist.latents.background`: the background plan (levels, noise, pan, distractors), built from
  :mod:`~movingmnist.latents.shapes` (random shapes: latents, geometry, painter) and
  :mod:`~movingmnist.latents.images` (image folders and crops).

:mod:`movingmnist.tracks` combines them into per-frame poses, the value every renderer draws.
"""
