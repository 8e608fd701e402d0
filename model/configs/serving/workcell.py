# The Serve graph of the shipped workcell models (serve/config.yaml names this file):
# detector -> pose -> recognizer with its online timeline head, behind one HTTP ingress.
# Any value can be overridden in the Serve config's `args.cfg_options` (dotted keys).

# Detector, pose model and tracker of an extraction config: the frame path (model/frame_path)
# that jobs.extract and jobs.infer run too. Its backends are "auto": ONNX Runtime with NumPy
# pre- and post-processing on this CPU, PyTorch where a GPU is there and ORT cannot use it.
extraction_config = "model/configs/extraction/workcell.py"
# Dotted overrides of that extraction config, e.g. {"detector.backend": "torch"} for
# MMDetection's own pipeline, or a smaller detector input: "detector.cfg_options":
# {"model.test_cfg.score_thr": 0.3, "test_dataloader.dataset.pipeline.1.scale": (320, 240)}.
extraction_options = {}
# The recognizer package; its timeline/ head gives the online action of each person. The one
# trained with features extracted from video: the service sees what extraction sees.
package = "trained_models/workcell_pixels"

stream = dict(
    fps=15.0,               # frame rate of a stream whose client names none
    detect_every=3,         # detector on every k-th frame; the frames between track persons
                            # by the box of their last keypoints and keep the last objects
    async_detection=True,   # True: a frame does not wait for its detection; the detector runs
                            # beside the next frames and its answer updates the tracker when
                            # it arrives (frames meanwhile track by keypoints, as between
                            # detections); False: every detection frame waits for it
    async_recognition=True,   # True: a frame does not wait for its step's recognizer run; the
                              # answer comes from the steps before (one step later), the
                              # features are handed over before the next step
    recognize_every=1,      # recognizer on every m-th step of the timeline head (its step is
                            # step_s of the head: 2 frames at 15 fps); steps between reuse it
    person_box_padding=1.25,  # box of a person's keypoints, scaled by this (frames between
                              # detections), as MMPose's top-down models pad boxes
    keypoint_thr=0.3,       # keypoints below this score do not shape that box
    confirmed_tracks_only=True,   # a person is tracked (pose, timeline, answer) once the
                                  # tracker confirms its track (ByteTrack: num_tentatives
                                  # detections in a row; the stream's first ones at once), so
                                  # a one-off false detection is never answered as a person;
                                  # False: from its first detection, as jobs.infer
    forget_track_s=2.0,     # a person unseen this long loses its timeline
    idle_timeout_s=60.0,    # a stream without a frame this long is evicted
    stage_timeout_s=2.0,    # a frame's pose not back this long: the frame gets 503 (held);
                            # a recognizer step not back this long after the frame that
                            # needs it is given up (its step reuses the last features, the
                            # answer says "degraded"), and then
    stage_retry_s=5.0,      # the recognizer is not called for this long (a lost replica takes
                            # Serve about 10 s to replace)
    max_streams=32,         # open streams in all (stream slots); beyond them POST /streams
                            # gets 429 until one is closed or evicted (idle_timeout_s)
    max_streams_per_client=8,   # open streams per client address, so that one client
                                # cannot take every slot
)
# Who may call the service. A client on this machine (loopback) needs no token; any other
# needs the API token, read from the environment variable named here in the ingress's
# process: `Authorization: Bearer <token>`, or `?token=` on the WebSocket (browsers cannot set
# its headers). Without the variable set, clients beyond loopback are refused (403): the
# shipped serve/config.yaml binds every interface, and a service is not opened to a network
# by accident. /health (liveness probes) and the API documentation answer everyone.
auth = dict(token_env="WORKCELL_API_TOKEN", loopback_without_token=True)
limits = dict(
    max_frame_bytes=4_000_000,     # largest encoded frame (JPEG / PNG) accepted
    max_clip_bytes=64_000_000,     # largest video clip accepted
    max_frame_pixels=4096 * 4096,  # decoded frame size limit
    min_frame_side=32,             # smaller frames are refused (a stream's size is that of its
                                   # first frame taken)
    max_window_frames=600,         # largest window the features endpoint takes
)
recognizer = dict(
    backend="onnx",         # "onnx": the step features' network in ONNX Runtime (exported
                            # when the replica starts, cached); "torch": PyTorch
    int8=False,             # ONNX Runtime's dynamic int8 quantization of that network
    tolerance=1e-3,         # largest relative |ONNX - PyTorch| of the export on an example
                            # window (int8 needs a looser one, e.g. 0.5; see PERFORMANCE.md)
)
# Serve's dynamic batching of requests from several streams (@serve.batch).
batching = dict(
    # A zero wait batches what is queued already: a lone stream never waits for company.
    detector=dict(max_batch_size=4, batch_wait_timeout_s=0.0),
    pose=dict(max_batch_size=4, batch_wait_timeout_s=0.0),
    recognizer=dict(max_batch_size=8, batch_wait_timeout_s=0.0),
)
# Replicas and the resources each reserves (serve/config.yaml may override these per
# deployment, as Serve config files do; on a GPU node give the models a fraction, e.g.
# ray_actor_options=dict(num_cpus=1, num_gpus=0.25): they run on the GPU when Ray assigns
# one). Stream state lives in the ingress, so it keeps one replica; its CPUs include the
# pose model's when that runs there (pose_placement below).
# max_ongoing_requests: at least the largest batch; the ingress holds every open WebSocket.
# Serve's access log writes a line per call: at 15 frames/s per stream and a call per stage
# that is CPU taken from the frames, so it is off (errors are still logged).
_quiet = dict(enable_access_log=False)
deployments = dict(
    ActionService=dict(num_replicas=1, max_ongoing_requests=256, logging_config=_quiet,
                       ray_actor_options=dict(num_cpus=0.5)),
    Detector=dict(num_replicas=1, max_ongoing_requests=16, logging_config=_quiet,
                  ray_actor_options=dict(num_cpus=0.5)),
    PoseEstimator=dict(num_replicas=1, max_ongoing_requests=16, logging_config=_quiet,
                       ray_actor_options=dict(num_cpus=0.5)),
    Recognizer=dict(num_replicas=1, max_ongoing_requests=16, logging_config=_quiet,
                    ray_actor_options=dict(num_cpus=0.5)),
    # Whole clips, off the streams' path: one at a time and one waiting per replica (a third
    # is refused with 429), reserving no CPU and at the lowest priority (niceness below), so
    # that a clip takes what the streams leave.
    Clips=dict(num_replicas=1, max_ongoing_requests=1, max_queued_requests=1,
               logging_config=_quiet, ray_actor_options=dict(num_cpus=0)),
)
# Where the pose model runs: "ingress" (in the ingress's process, on a worker thread) or
# "deployment" (its own PoseEstimator deployment, batched across streams, scaled on its own).
# Every tracked frame needs its pose before it is answered, and a deployment handle call costs
# a few ms of latency and of CPU (docs/serving.md): on one machine the ingress is the cheaper
# place; on a cluster with GPU nodes a deployment scales.
pose_placement = "ingress"
# Scheduling priority (nice increment, 0-19) of each replica's process. The asynchronous
# detector is off every frame's critical path: on a machine with fewer cores than busy stages
# it yields the cores to the ingress and the pose model, whose time is the frame's latency.
# (pose: the PoseEstimator deployment's; in the ingress the pose model has the ingress's.)
niceness = dict(ingress=0, detector=10, pose=0, recognizer=0, clips=19)
# Intra-op threads of PyTorch / ONNX Runtime / OpenCV per replica (the ingress runs the
# timelines' MS-TCN and decodes frames). The detector runs on every detect_every-th frame
# only, and then on both cores of a 2-core machine (about 15 ms instead of 26 for the shipped
# RTMDet-nano, ../docs/PERFORMANCE.md).
threads = dict(ingress=1, detector=2, pose=1, recognizer=1, clips=1)
