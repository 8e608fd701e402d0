"""The label space of workcell-synth and the confusions built into it (see the package docstring).

The index of a class in its tuple is its class id.
"""

ACTION_CLASSES = ("idle", "reach", "pick_part", "place_part", "pack_box", "inspect_part",
                  "scan_barcode", "fasten_screwdriver", "drill", "tighten_wrench", "hammer")
OBJECT_CLASSES = ("part", "box", "scanner", "screwdriver", "power_drill", "wrench", "hammer",
                  "cup")

# Same motion program, different object moving with the hand.
SAME_MOTION_PAIRS = (("reach", "pick_part"), ("place_part", "pack_box"),
                     ("inspect_part", "scan_barcode"), ("fasten_screwdriver", "drill"))
# Same object in the hand ("part"), different motion programs.
SAME_OBJECT_PAIRS = (("pick_part", "place_part"), ("pick_part", "inspect_part"),
                     ("place_part", "inspect_part"))
