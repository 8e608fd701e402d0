"""workcell-synth: a deterministic generator of annotated videos of operators at a workbench.

It is the product's built-in dataset. An operator stands behind a bench facing the camera side;
a 3D skeleton is animated (wrists follow per-action target paths, elbows and knees by two-bone
IK), projected by a random pinhole camera, and turned into annotation documents with the noise
of a pose estimator and an object detector. Each video is also drawn to MP4.

The classes are built so that neither the body motion nor the objects alone tell the action;
what tells it is the object that moves with the hand:

Same body motion (one motion program, same random draws), different object:
  - reach / pick_part: the hand goes to the bench and comes back; in reach it comes back empty
    (a part may lie at the spot and stay there), in pick_part a part travels back with the hand.
  - place_part / pack_box: a part carried from the body to the bench and released; pack_box
    releases it into a box standing at that spot (the part then disappears inside), place_part
    on the bare bench (the part stays where it landed).
  - inspect_part / scan_barcode: the held object is raised to chest or face height in front of
    the body, held and tilted, then lowered; a part versus a scanner.
  - fasten_screwdriver / drill: the hand presses on a workpiece on the bench with a small
    periodic twist; a screwdriver versus a power drill.

Same object in the hand (a part), different motion:
  - pick_part / place_part, pick_part / inspect_part, place_part / inspect_part.

Own motions: hammer (repeated vertical forearm strikes, hammer in hand), tighten_wrench
(repeated horizontal ratchet arcs, wrench in hand), idle (standing with small sway, hands resting
near the bench edge, nothing held).

Every bench also carries 1-4 static objects of any class (tools and cups included), so seeing a
screwdriver does not mean screwdriving; and a held part is often missed by the detector because
the hand hides it. Parameters: workcell_synth/configs/default.py; CLI: jobs/make_dataset.py.
"""

from workcell_synth.classes import (
    ACTION_CLASSES,
    OBJECT_CLASSES,
    SAME_MOTION_PAIRS,
    SAME_OBJECT_PAIRS,
)
from workcell_synth.generator import DEFAULT_CONFIG, generate_dataset, tiny_config

__all__ = ["ACTION_CLASSES", "DEFAULT_CONFIG", "OBJECT_CLASSES", "SAME_MOTION_PAIRS",
           "SAME_OBJECT_PAIRS", "generate_dataset", "tiny_config"]
