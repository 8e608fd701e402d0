"""The frame path: what happens to a video frame, from pixels to the recognizer's input.

    decode (video.py, images.py)
      -> detect (detector.py: the network in ONNX Runtime or MMDetection; detections.py: the
         detector's classes mapped onto persons and the dataset's objects, top-k per frame)
      -> pose (pose.py: batched top-down crops of every person, MMPose's geometry and codec)
      -> track (tracking.py: MMDetection's ByteTrack, persons and objects)
      -> feature rows (rows.py: one ``FrameArrays`` row per frame, as the feature table holds
         them; window.py: the newest rows of a live stream)

chain.py puts them together from an extraction config (model/configs/extraction/). Plain
Python, no Ray: the Ray Data actors of jobs.extract (actors/), the Serve deployments (serve/)
and jobs.infer all run these classes, so a frame gives the same rows wherever it is processed.
"""
