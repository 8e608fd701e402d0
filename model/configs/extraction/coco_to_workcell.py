# An example mapping of COCO detector classes onto the workcell object classes, for a COCO
# checkpoint or for random weights (where labels mean nothing and the map only spreads the
# detections over the object slots). COCO has no screwdriver, drill or wrench, so a COCO model
# stands in for them poorly: train the detector on your own classes (docs/extraction.md).
coco_to_workcell = {"scissors": "screwdriver", "cell phone": "scanner", "suitcase": "box",
                    "bottle": "part", "knife": "wrench", "hair drier": "power_drill",
                    "baseball bat": "hammer"}
