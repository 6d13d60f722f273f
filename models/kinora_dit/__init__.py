"""Kinora's own small text-to-video diffusion transformer: data, captions and the automatic judge.

* ``scenes``: procedural one-object scenes, their vocabularies, the held-out (colour, shape, motion) triples,
  and the renderer (``render``; ``motion``, ``sprites``, ``effects`` and ``raster`` do its parts);
* ``captions``: English and French captions of a scene, and ``parse_prompt`` to read attributes back;
* ``checker``: ``judge(clip, attributes)``, plain vision on generated clips (``clip_vision``,
  ``shape_match``, ``motion_reading`` and ``clip_effects`` do its parts); ``degrade`` and
  ``counterfactuals`` make the clips it is validated on (``bench/prompt_checker.py``).

Everything here is numpy/OpenCV/Pillow; no torch.
"""
