"""The label space of workcell-synth and the confusions built into it (see the package docstring).

The index of a class in its tuple is its class id.
"""

ACTION_CLASSES = ("idle", "reach", "pick_part", "place_part", "pack_box", "inspect_part",
                  "scan_barcode", "fasten_screwdriver", "drill", "tighten_wrench", "hammer")
OBJECT_CLASSES = ("part", "box", "scanner", "screwdriver", "power_drill", "wrench", "hammer",
                  "cup")

# Every bench holds one of each; an action takes its tool from the bench and puts it back down.
STATION_TOOLS = ("scanner", "screwdriver", "power_drill", "wrench", "hammer")
TOOL_OF_ACTION = {"scan_barcode": "scanner", "fasten_screwdriver": "screwdriver",
                  "drill": "power_drill", "tighten_wrench": "wrench", "hammer": "hammer"}

# Same motion program, different object moving with the hand.
SAME_MOTION_PAIRS = (("reach", "pick_part"), ("place_part", "pack_box"),
                     ("inspect_part", "scan_barcode"), ("fasten_screwdriver", "drill"))
# Same object in the hand ("part"), different motion programs.
SAME_OBJECT_PAIRS = (("pick_part", "place_part"), ("pick_part", "inspect_part"),
                     ("place_part", "inspect_part"))
# A tool taken from the bench and put down again: used by its action, or only moved aside
# during idle or reach (which then also look like fetching and putting down an object).
MOVED_TOOL_PAIRS = tuple((other, action) for action in TOOL_OF_ACTION
                         for other in ("idle", "reach"))
