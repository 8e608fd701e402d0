"""How often a video's per-person timelines name the annotated operator's action.

The rows must carry the annotation's labels and, per frame, the tracked person standing for the
annotated subject (``FramePath.video`` with the document: the track overlapping the annotated
subject's boxes most over each segment). A labelled frame counts as right when the timeline of
that track names the frame's label there; frames whose subject was not tracked, or whose track
got no timeline, count as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.datasets.frame_rows import FrameArrays


def operator_frame_accuracy(arrays: FrameArrays, persons: Sequence[dict],
                            classes: Sequence[str]) -> dict:
    """``persons``: the timeline document's persons (track id, segments with start_frame,
    end_frame exclusive, label)."""
    index = {name: i for i, name in enumerate(classes)}
    named = {}
    for person in persons:
        timeline = np.full(arrays.num_frames, -1)
        for seg in person["segments"]:
            timeline[seg["start_frame"]:seg["end_frame"]] = index[seg["label"]]
        named[person["track_id"]] = timeline
    labelled = np.flatnonzero(arrays.label >= 0)
    predicted = np.array([named[s][t] if (s := int(arrays.subject_track_id[t])) in named else -1
                          for t in labelled], int)
    right = predicted == arrays.label[labelled]
    return {"labelled_frames": int(len(labelled)),
            "frames_with_operator_tracked": int((arrays.subject_track_id[labelled] >= 0).sum()),
            "frame_accuracy": float(right.mean()) if len(labelled) else None}
