"""The HTTP API of the Serve graph: one FastAPI ingress over the Detector, PoseEstimator,
Recognizer and Clips deployments (serve/deployments.py), which it calls through
``DeploymentHandle``s.

    serve run serve/config.yaml                  # local: the graph of serve/config.yaml
    serve run serve.app:build_app config=model/configs/serving/workcell.py
    serve deploy serve/config.yaml               # on a running cluster (docs/cluster.md)

Endpoints (the OpenAPI schema is at /docs and /openapi.json):

  POST   /streams                        open a stream -> {"stream_id"}
  POST   /streams/{id}/frames            one JPEG/PNG frame -> actions per tracked person
  WS     /streams/{id}/ws                binary JPEG/PNG messages -> one JSON answer each
  DELETE /streams/{id}                   close a stream
  POST   /clip                           a short video -> its action timeline (jobs.infer)
  POST   /features                       pose + object features of a window -> class scores
  GET    /health /ready /classes /versions
  GET    /live                           the live view in a browser (serve/static/live)

Streams live in this (single) ingress replica: its frames are handled in order under the
stream's lock, an idle stream is evicted, and after a replica restart an unknown stream gets a
404 that tells the client to open it again (the state is rebuilt from the frames that follow).
"""


import asyncio
import base64
import functools
import json
import logging
import time
import uuid
from pathlib import Path

import numpy as np
from fastapi import (
    Depends,
    FastAPI,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from ray import serve
from ray.exceptions import RayActorError, RayError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.requests import HTTPConnection
from swagger_ui_bundle import swagger_ui_path

import model  # noqa: F401  (the MMAction2 packaging fix precedes any mmaction import)
from model.datasets.coco_keypoints import KEYPOINT_LAYOUT, coco_pose_metainfo
from model.device import local_device
from model.frame_path.images import FrameError, FrameTooLarge
from model.frame_path.images import decode_image as decode_frame
from model.frame_path.video import VideoError
from model.inference.package import load_package
from model.inference.timeline_head import TIMELINE_DIR, load_timeline_head
from serve.auth import Access, AccessDenied
from serve.deployments import (
    Clips,
    Detector,
    IngressPose,
    PoseEstimator,
    Recognizer,
    start_replica,
)
from serve.features import FeatureWindow, example_window, window_arrays
from serve.outage import Outage, StageOutage
from serve.overload import NewestFrame
from serve.settings import DEFAULT_CONFIG, ServingSettings, load_settings
from serve.stream import RequestError, StreamState

IMAGE_TYPES = ("image/jpeg", "image/png")
logger = logging.getLogger("ray.serve")

app = FastAPI(
    docs_url=None, redoc_url=None,      # /docs below, with its assets served from here
    title="Workcell action recognition",
    description=(
        "Operator actions from camera frames: detector -> pose -> recognizer with an online "
        "action timeline per tracked person.\n\n"
        "**WebSocket** (OpenAPI does not describe WebSockets): `WS /streams/{stream_id}/ws"
        "?poses=&objects=` on an opened stream. Send one binary message per frame (the JPEG "
        "or PNG bytes); each frame answered gets one text message, the JSON of `POST "
        "/streams/{stream_id}/frames` with `dropped_frames` (frames dropped since the last "
        "answer: when frames come faster than they are served, the newest wins). A refused "
        "frame gets `{\"error\", \"status\", \"frame_index\"}`, a text message `{\"error\", "
        "\"status\": 400}`; the socket stays open. A stream takes one live socket: a second "
        "gets `{\"error\", \"status\": 409}` and is closed (code 1008)."))


def _refusals(*statuses: int) -> dict:
    """The OpenAPI ``responses`` of an endpoint's refusals: each a ``{"detail"}`` message."""
    why = {400: "undecodable or empty body", 404: "unknown, closed or evicted stream",
           409: "frame out of order, or stream id taken", 413: "body or image over the limit",
           415: "wrong content type", 422: "wrong size, shape or value (the message names the "
           "field)", 429: "too many streams, or the clip deployment is full",
           503: "a model replica was lost; send the next frame"}
    schema = {"type": "object", "properties": {"detail": {"type": "string"}}}
    return {s: {"description": why[s], "content": {"application/json": {"schema": schema}}}
            for s in statuses}


def _binary_body(*media_types: str) -> dict:
    """An endpoint's raw request body (read from the request, so FastAPI cannot infer it)."""
    return {"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}}}


app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
# The live view (a static page that calls this API from the browser, docs/serving.md).
LIVE_VIEW = Path(__file__).parent / "static" / "live"
app.mount("/live/", StaticFiles(directory=LIVE_VIEW, html=True), name="live")


@app.get("/live", include_in_schema=False)
def live_view() -> RedirectResponse:
    """The live view's folder (its assets are relative to it)."""
    return RedirectResponse("live/")


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    """Swagger UI from this service's own copy of its assets (works offline). Relative URLs,
    so that it works under any route prefix."""
    return get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} - API",
                               swagger_js_url="docs-assets/swagger-ui-bundle.js",
                               swagger_css_url="docs-assets/swagger-ui.css",
                               swagger_favicon_url="docs-assets/favicon-32x32.png")


def _authorize(connection: HTTPConnection) -> None:
    """Every endpoint but /health and the API documentation: the caller must be allowed
    (serve/auth.py)."""
    try:
        connection.app.state.access.check(connection)
    except AccessDenied as exc:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(code=1008, reason=str(exc)) from exc
        raise


AUTHORIZED = [Depends(_authorize)]


@app.exception_handler(AccessDenied)
async def _denied(_: Request, exc: AccessDenied) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": str(exc)})


@app.exception_handler(RequestError)
async def _refused(_: Request, exc: RequestError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": str(exc)})


def decode_image(data: bytes, content_type: str | None, limits: dict) -> np.ndarray:
    """A BGR frame from an encoded JPEG/PNG body (its size checked from the header before the
    one decode of the frame), or a RequestError saying what is wrong."""
    if content_type is not None and content_type.split(";")[0].strip() not in IMAGE_TYPES:
        raise RequestError(415, f"frame: content type {content_type!r}; send {IMAGE_TYPES}")
    if len(data) > int(limits["max_frame_bytes"]):
        raise RequestError(413, f"frame: {len(data)} bytes, more than the limit of "
                                f"{limits['max_frame_bytes']}")
    try:
        return decode_frame(data, int(limits["max_frame_pixels"]), int(limits["min_frame_side"]))
    except FrameTooLarge as exc:
        raise RequestError(413, str(exc)) from exc
    except FrameError as exc:
        raise RequestError(400, str(exc)) from exc


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"{what}: {declared} bytes, more than the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(413, f"{what}: more than the limit of {limit} bytes")
    return bytes(body)


async def on_a_live_replica(method, *args):
    """``method.remote(*args)`` of a deployment handle, sent once more when the replica it went
    to died: Serve's router sends the second call to another replica, or holds it until the
    replacement starts (the callers bound how long they wait)."""
    try:
        return await method.remote(*args)
    except RayActorError:
        return await method.remote(*args)


@serve.deployment(num_replicas=1)
@serve.ingress(app)
class ActionService:
    def __init__(self, settings: ServingSettings, detector: DeploymentHandle,
                 pose: DeploymentHandle | None, recognizer: DeploymentHandle,
                 clips: DeploymentHandle):
        """``pose``: the PoseEstimator deployment, or None for the pose model in this
        process (``pose_placement="ingress"``)."""
        start_replica(settings, "ingress")
        self.settings = settings
        app.state.access = Access(settings.auth)
        self.detector, self.recognizer, self.clips = detector, recognizer, clips
        self.estimate_pose = IngressPose(settings).estimate if pose is None \
            else functools.partial(on_a_live_replica, pose.estimate)
        # The timelines need the package's config and the head; the recognizer itself runs
        # in its own deployment.
        self.package = load_package(settings.package, local_device())
        self.head = load_timeline_head(settings.package)
        self.streams: dict[str, StreamState] = {}
        # The stages a frame can be answered without, for a while after they failed.
        self.outages = {stage: Outage(float(settings.stream["stage_retry_s"]))
                        for stage in ("detector", "recognizer")}
        self.evicted: set[str] = set()
        self.started = time.time()

    # -- streams -------------------------------------------------------------------------
    def _evict_idle(self) -> None:
        timeout = float(self.settings.stream["idle_timeout_s"])
        now = time.monotonic()
        for sid in [s for s, st in self.streams.items() if now - st.last_active > timeout]:
            del self.streams[sid]
            self.evicted.add(sid)

    def _stream(self, stream_id: str) -> StreamState:
        self._evict_idle()
        if stream_id in self.streams:
            return self.streams[stream_id]
        why = (f"was evicted after {self.settings.stream['idle_timeout_s']} s without a frame"
               if stream_id in self.evicted else
               "is unknown (never opened, closed, or the server restarted)")
        raise RequestError(404, f"stream {stream_id!r} {why}; open it again with POST /streams")

    @app.post("/streams", status_code=201, dependencies=AUTHORIZED,
              responses=_refusals(409, 422, 429))
    def open_stream(self, request: Request,
                    fps: float | None = Query(None, gt=0, le=240, allow_inf_nan=False,
                                                    description="frame rate of the camera"),
                    stream_id: str | None = Query(None, min_length=1, max_length=128,
                                                  pattern=r"^[A-Za-z0-9._-]+$")) -> dict:
        """Open a stream; its frames then go to /streams/{stream_id}/frames or its WebSocket."""
        self._evict_idle()
        stream_id = stream_id or uuid.uuid4().hex[:12]
        if stream_id in self.streams:
            raise RequestError(409, f"stream {stream_id!r} is open already")
        if len(self.streams) >= int(self.settings.stream["max_streams"]):
            raise RequestError(429, f"{len(self.streams)} streams are open, the limit "
                                    f"(stream.max_streams); close one first")
        client = request.client.host if request.client else None
        mine = sum(st.client == client for st in self.streams.values())
        if mine >= int(self.settings.stream["max_streams_per_client"]):
            raise RequestError(429, f"this client ({client}) has {mine} streams open, the "
                                    "limit per client (stream.max_streams_per_client); close "
                                    "one first")
        fps = float(fps or self.settings.stream["fps"])
        self.streams[stream_id] = StreamState(stream_id, fps, self.settings, self.package,
                                              self.head, client)
        self.evicted.discard(stream_id)
        return {"stream_id": stream_id, "fps": fps}

    @app.delete("/streams/{stream_id}", dependencies=AUTHORIZED,
              responses=_refusals(404))
    def close_stream(self, stream_id: str) -> dict:
        state = self._stream(stream_id)
        del self.streams[stream_id]
        return {"stream_id": stream_id, "frames": state.next_frame}

    @app.get("/streams", dependencies=AUTHORIZED)
    def list_streams(self) -> dict:
        self._evict_idle()
        return {"streams": {sid: {"frames": st.next_frame, "persons": len(st.timelines),
                                  "fps": st.fps} for sid, st in self.streams.items()}}

    async def _detect(self, image: np.ndarray) -> tuple[dict, float, float]:
        mark = time.perf_counter()
        detections, compute = await on_a_live_replica(self.detector.detect, image)
        return detections, compute, (time.perf_counter() - mark) * 1e3

    async def _detection(self, pending, wait_s: float, timings: dict,
                         nobody: bool) -> dict | None:
        """The detections of ``pending`` (a detection call, or one already running), waited for
        at most ``wait_s``. One that fails or is late puts the detector in outage
        (``stream.stage_retry_s``: none is tried meanwhile); the frame then goes on with its
        tracked persons (None), or with nobody tracked it is refused."""
        try:
            detections, timings["detector_compute"], timings["detector"] = \
                await asyncio.wait_for(pending, wait_s)
        except (RayError, TimeoutError) as exc:
            self.outages["detector"].begin()
            if nobody:
                raise
            logger.warning("detection failed (%s); tracked persons follow their keypoints",
                           type(exc).__name__)
            return None
        return detections

    async def _detect_now(self, image: np.ndarray, timings: dict, nobody: bool) -> dict | None:
        """A detection the frame waits for (``_detection``, at most ``stream.stage_timeout_s``);
        none while the detector is in outage."""
        if self.outages["detector"].active():
            if nobody:
                raise StageOutage("detector")
            return None
        return await self._detection(self._detect(image),
                                     float(self.settings.stream["stage_timeout_s"]), timings,
                                     nobody)

    async def _persons(self, state: StreamState, t: int, image: np.ndarray, timings: dict):
        """The tracked persons of frame ``t``. Synchronous detection waits for the frame's
        detections; asynchronous detection starts them and goes on with the last ones that
        arrived (the tracker takes them as its next update). While nobody is
        tracked there is nothing to go on with, so a frame then waits for the running
        detection, or for its own (the first frame of a stream answers with its persons).
        A detection that fails or is late puts the detector in outage (``stream.stage_retry_s``):
        meanwhile tracked persons follow their keypoints and the answers say so
        (``degraded``), and a frame with nobody tracked is refused (StageOutage)."""
        detections = None
        outage = self.outages["detector"]
        nobody = not len(state.persons.ids)
        if not state.options["async_detection"]:
            if state.needs_detection(t):
                detections = await self._detect_now(image, timings, nobody)
        else:
            running = state.detection
            # A detection running longer than stage_timeout_s (in the stream's time) is
            # given up; a frame with nobody tracked waits for it until then.
            left = None if running is None else \
                float(self.settings.stream["stage_timeout_s"]) - (t - running[0]) / state.fps
            if running is not None and (running[1].done() or nobody or left <= 0):
                state.detection = None
                # None when it failed: tracked persons follow their keypoints (with nobody
                # tracked the frame detects now, below).
                detections = await self._detection(running[1], max(left, 0.0), timings,
                                                   nobody=False)
                if detections is not None:
                    timings["detection_age_frames"] = t - running[0]
            if nobody and (detections is None or not int(detections["num_persons"])):
                detections = await self._detect_now(image, timings, nobody=True)
                timings.pop("detection_age_frames", None)
            elif state.detection is None and state.needs_detection(t) and not outage.active():
                state.detection = (t, asyncio.ensure_future(self._detect(image)))
        mark = time.perf_counter()
        persons = state.track(image, detections)
        timings["tracking"] = (time.perf_counter() - mark) * 1e3
        return persons

    async def _embed(self, samples: list[dict]) -> tuple[np.ndarray, float, float]:
        mark = time.perf_counter()
        features, compute = await on_a_live_replica(self.recognizer.embed, samples)
        return features, compute, (time.perf_counter() - mark) * 1e3

    async def _collect_recognition(self, state: StreamState, timings: dict,
                                   wait: bool = False) -> None:
        """Hand the running recognition's features to the timelines: when it is done, or
        (waiting for it) when ``wait`` or when the next frame is a step that needs it. A
        recognition that fails or takes longer than ``stream.stage_timeout_s`` is given up:
        its step reuses the last features, the answer is flagged ``degraded``, and the
        recognizer is left alone for ``stream.stage_retry_s`` (a lost replica takes Serve
        seconds to replace; the frames meanwhile do not wait for it)."""
        if state.recognition is None:
            return
        tracks, task = state.recognition
        if not (task.done() or wait or state.step_blocked()):
            return
        state.recognition = None
        try:
            features, timings["recognizer_compute"], timings["recognizer"] = \
                await asyncio.wait_for(task, float(self.settings.stream["stage_timeout_s"]))
        except (RayError, TimeoutError) as exc:
            logger.warning("stream %s: recognition given up (%s); the recognizer is left "
                           "alone for %s s", state.stream_id, type(exc).__name__,
                           self.settings.stream["stage_retry_s"])
            self.outages["recognizer"].begin()
            state.abandon(tracks)
            return
        mark = time.perf_counter()
        per = len(features) // len(tracks)
        state.complete({tid: features[i * per:(i + 1) * per] for i, tid in enumerate(tracks)})
        timings["timeline"] = (time.perf_counter() - mark) * 1e3

    async def _hold(self, state: StreamState, timings: dict) -> None:
        """Hold the stream's next frame (dropped, or refused for a lost stage), once a step
        its timelines wait for is completed or given up (StreamState.hold asks for it)."""
        await self._collect_recognition(state, timings)
        state.hold()

    async def _frame(self, stream_id: str, data: bytes, content_type: str | None,
                     frame_index: int | None, with_poses: bool, with_objects: bool,
                     hold_missing: bool = False) -> dict:
        """One frame through the stream. ``hold_missing``: the frames between the stream's
        next one and ``frame_index`` were dropped (a socket's newest frame won) and are held,
        not refused."""
        started = time.perf_counter()
        state = self._stream(stream_id)
        image = decode_image(data, content_type, self.settings.limits)
        timings = {"decode": (time.perf_counter() - started) * 1e3}
        async with state.lock:
            if self.streams.get(stream_id) is not state:
                raise RequestError(404, f"stream {stream_id!r} was closed")
            dropped = 0
            while hold_missing and state.next_frame < frame_index:
                await self._hold(state, timings)
                dropped += 1
            t = state.begin(frame_index, image)
            stage = "detector"
            try:
                persons = await self._persons(state, t, image, timings)
                stage = "pose model"
                if len(persons.ids):
                    mark = time.perf_counter()
                    persons.keypoints, persons.keypoint_scores, timings["pose_compute"] = \
                        await asyncio.wait_for(self.estimate_pose((image, persons.boxes)),
                                               float(self.settings.stream["stage_timeout_s"]))
                    timings["pose"] = (time.perf_counter() - mark) * 1e3
            except (RayError, TimeoutError, StageOutage) as exc:
                # A lost replica (Serve starts another), a detection or pose later than
                # stream.stage_timeout_s, or the detector in outage while nobody is tracked:
                # the frame is held as a dropped one is, so that the stream goes on with the
                # next frame.
                await self._hold(state, timings)
                raise RequestError(503, f"stream {stream_id!r}: frame {t}: the {stage} is "
                                        f"unavailable ({type(exc).__name__}); send the next "
                                        "frame") from exc
            await self._collect_recognition(state, timings)
            mark = time.perf_counter()
            pending = state.add_pose(t, image, persons)
            timings["timeline_input"] = (time.perf_counter() - mark) * 1e3
            if pending:
                # One recognition in flight per stream: persons seen from different frames
                # step on different frames, and the last one's features must be in first.
                await self._collect_recognition(state, timings, wait=True)
                if self.outages["recognizer"].active():
                    state.abandon(list(pending))
                else:
                    state.recognition = (list(pending), asyncio.ensure_future(
                        self._embed([s for samples in pending.values() for s in samples])))
                    if not state.options["async_recognition"]:
                        await self._collect_recognition(state, timings, wait=True)
            # Answered without the stages left alone: the last actions (recognizer), persons
            # followed by their keypoints and the last objects (detector).
            degraded = [stage for stage, outage in self.outages.items() if outage.active()]
            answer = state.answer(t, with_poses, with_objects, dropped, degraded)
        timings["server"] = (time.perf_counter() - started) * 1e3
        answer["timings_ms"] = {k: round(v, 2) for k, v in timings.items()}
        return answer

    @app.post("/streams/{stream_id}/frames", dependencies=AUTHORIZED,
              openapi_extra=_binary_body(*IMAGE_TYPES),
              responses=_refusals(400, 404, 409, 413, 415, 422, 503))
    async def frame(self, stream_id: str, request: Request,
                    frame_index: int | None = Query(None, ge=0, description=(
                        "the frame's number in the stream (0, 1, ...); refused (409) when it "
                        "is not the next one")),
                    poses: bool = Query(False, description="return keypoints"),
                    objects: bool = Query(False, description="return the objects")) -> dict:
        """One frame (body: the JPEG or PNG bytes) -> the latest action of each tracked person:
        ``action``, ``score``, ``scores`` (every class) and ``about_frame``, the frame the
        answer names (the online timeline answers with a fixed lag)."""
        data = await read_body(request, int(self.settings.limits["max_frame_bytes"]), "frame")
        return await self._frame(stream_id, data, request.headers.get("content-type"),
                                 frame_index, poses, objects)

    @app.websocket("/streams/{stream_id}/ws", dependencies=AUTHORIZED)
    async def stream_socket(self, websocket: WebSocket, stream_id: str,
                            poses: bool = False, objects: bool = False) -> None:
        """Binary messages, one JPEG/PNG frame each, numbered in the order they arrive from
        the stream's next frame on. Each frame answered gets the JSON of the frames endpoint;
        when frames arrive faster than they are answered the newest wins and the others are
        dropped, held in the stream's time and counted in the next answer (``dropped_frames``), see
        serve/overload.py. A refused frame gets {"error", "status", "frame_index"} and the
        socket stays open. A stream takes one live socket: a second gets {"error", "status":
        409} and is closed (code 1008)."""
        await websocket.accept()
        state = self.streams.get(stream_id)
        if state is not None and state.socket_live:
            # Two sockets would interleave their frames into one tracker and timeline.
            await websocket.send_text(json.dumps({
                "error": f"stream {stream_id!r} has a live socket already; one socket per "
                         "stream (open another stream)", "status": 409}))
            await websocket.close(code=1008, reason="the stream has a live socket")
            return
        if state is not None:
            state.socket_live = True
        # A socket numbers its frames from the stream's next one: a client that connects
        # again goes on where the stream is.
        first = state.next_frame if state is not None else 0
        inbox = NewestFrame()
        reader = asyncio.ensure_future(self._read_socket(websocket, inbox))
        try:
            while True:
                notices, frame = await inbox.take()
                if inbox.closed:    # the client went: nobody to answer
                    return
                for notice in notices:
                    await websocket.send_text(json.dumps(notice))
                if frame is None:
                    continue
                index, data = frame
                index += first
                try:
                    answer = await self._frame(stream_id, data, None, index, poses, objects,
                                               hold_missing=True)
                except RequestError as exc:
                    answer = {"error": str(exc), "status": exc.status, "frame_index": index}
                await websocket.send_text(json.dumps(answer))
        except WebSocketDisconnect:
            return
        finally:
            reader.cancel()
            if state is not None:
                state.socket_live = False

    @staticmethod
    async def _read_socket(websocket: WebSocket, inbox: NewestFrame) -> None:
        """Take every message as it arrives (the answering task may be busy) until the
        client goes."""
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    inbox.put_frame(message["bytes"])
                else:
                    inbox.put_notice({"error": "a frame is one binary message (the JPEG or "
                                               "PNG bytes); a text message is not a frame",
                                      "status": 400})
        finally:
            inbox.close()

    # -- whole clips and precomputed features ----------------------------------------------
    @app.post("/clip", dependencies=AUTHORIZED,
              openapi_extra=_binary_body("video/mp4", "application/octet-stream"),
              responses=_refusals(400, 413, 429))
    async def clip(self, request: Request,
                   video_id: str = Query("clip", min_length=1, max_length=128,
                                         pattern=r"^[A-Za-z0-9._-]+$"),
                   online: bool = Query(False, description="the causal online timeline"),
                   annotated: bool = Query(False, description=(
                       "also the annotated video (boxes, skeletons, actions; VP8 WebM, "
                       "base64) under annotated_video.webm_base64"))
                   ) -> dict:
        """A short video file (body: MP4 or any container OpenCV reads) -> the per-person
        action timeline, the document jobs.infer writes to timeline.json (with
        ``annotated``, the annotated video in it)."""
        data = await read_body(request, int(self.settings.limits["max_clip_bytes"]), "clip")
        if not data:
            raise RequestError(400, "clip: empty body")
        try:
            doc = await self.clips.timeline.remote(data, video_id, online, annotated)
        except BackPressureError as exc:
            raise RequestError(429, "clip: the service is busy with other clips; send it "
                                    "again later") from exc
        except VideoError as exc:
            # Its problem only: the file is the replica's temporary copy.
            raise RequestError(400, f"clip {video_id!r}: {exc.problem}") from exc
        if annotated:
            video = doc["annotated_video"]
            doc["annotated_video"] = {"frames": video["frames"], "media_type": "video/webm",
                                      "webm_base64": base64.b64encode(video["webm"]).decode()}
        return {"video": video_id, "video_id": video_id, **doc,
                "models": {"detector": self.settings.extraction["detector"],
                           "pose": self.settings.extraction["pose"],
                           "recognizer": self.settings.package}}

    @app.post("/features", dependencies=AUTHORIZED,
              responses=_refusals(422))
    async def features(self, window: FeatureWindow) -> dict:
        """Pose and object features of one window (from a client's own detector and pose
        model; the arrays of the feature table, docs/data-format.md) -> class scores of the
        window's subject."""
        scores = await self.recognizer.classify.remote(window_arrays(window, self.settings))
        classes = self.settings.action_classes
        best = int(np.argmax(scores))
        return {"label": classes[best], "score": scores[best],
                "scores": dict(zip(classes, scores, strict=True))}

    # -- service information ------------------------------------------------------------
    @app.get("/health")
    def health(self) -> dict:
        return {"status": "ok", "uptime_s": round(time.time() - self.started, 1)}

    @app.get("/ready", dependencies=AUTHORIZED, responses=_refusals(503))
    async def ready(self) -> dict:
        """Ready when every stage of the streams (detector, pose model, recognizer) answers;
        503 naming the stages that do not. ``clips``: the clip deployment's state, "ready",
        "busy" (working on its clips: it takes one at a time, and the probe does not wait
        longer than ``stream.stage_timeout_s`` for it) or "unavailable" (its replica is lost;
        the streams do not need it)."""
        blank = np.zeros((32, 32, 3), np.uint8)
        probes = {"detector": self.detector.detect.remote(blank),
                  "pose model": self.estimate_pose((blank, np.array([[0, 0, 32, 32]],
                                                                    np.float32))),
                  "recognizer": self.recognizer.classify.remote(example_window(self.settings))}
        results = await asyncio.gather(*probes.values(), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, RayError):
                raise result
        lost = [f"{name} ({type(result).__name__})" for name, result in
                zip(probes, results, strict=True) if isinstance(result, RayError)]
        if lost:
            raise RequestError(503, f"not ready: {', '.join(lost)} unavailable; Serve is "
                                    "replacing the replica")
        return {"ready": True, "streams": len(self.streams), "clips": await self._clips()}

    async def _clips(self) -> str:
        try:
            await asyncio.wait_for(self.clips.ping.remote(),
                                   float(self.settings.stream["stage_timeout_s"]))
        except (BackPressureError, TimeoutError):
            return "busy"
        except RayError:
            return "unavailable"
        return "ready"

    @app.get("/classes", dependencies=AUTHORIZED)
    def classes(self) -> dict:
        """The action and object classes, and the keypoint layout's limbs (pairs of joint
        indices) to draw a skeleton with."""
        return {"action_classes": self.settings.action_classes,
                "object_classes": self.settings.object_classes, "keypoint_layout": KEYPOINT_LAYOUT,
                "skeleton_links": [list(link) for link in coco_pose_metainfo()["skeleton_links"]]}

    @app.get("/versions", dependencies=AUTHORIZED)
    def versions(self) -> dict:
        """The models behind the service: recognizer package, timeline head, detector, pose
        model and tracker settings, and the serving config."""
        package = Path(self.settings.package)
        metrics = json.loads((package / "metrics.json").read_text())
        head = json.loads((package / TIMELINE_DIR / "metrics.json").read_text())
        return {"recognizer": {"package": str(package),
                               "selected_epoch": metrics.get("selected_epoch"),
                               "val_macro_f1": metrics.get("selected_val_macro_f1"),
                               "backend": self.settings.recognizer["backend"]},
                "timeline_head": {"windows_s": self.head.windows_s, "step_s": self.head.step_s,
                                  "lag_s": self.head.cfg.decoder["online"]["lag_s"],
                                  "online_val": head["online"]["val"]},
                "detector": self.settings.extraction["detector"],
                "pose": self.settings.extraction["pose"],
                "tracker": self.settings.extraction["tracker"],
                "serving_config": self.settings.config_file,
                "stream": self.settings.stream}


def build_app(args: dict) -> serve.Application:
    """The Serve application (``serve run serve.app:build_app config=...``, or
    serve/config.yaml's ``import_path``). Args: ``config`` (a serving config, default
    model/configs/serving/workcell.py) and ``cfg_options`` (its dotted overrides). Replicas
    and resources come from the config's ``deployments``; a Serve config file's
    ``deployments`` section overrides them. With ``pose_placement="ingress"`` the pose model
    runs in the ingress and there is no PoseEstimator deployment."""
    settings = load_settings(args.get("config", DEFAULT_CONFIG), args.get("cfg_options"))

    def bound(deployment, *arguments):
        return deployment.options(**settings.deployments[deployment.name]).bind(*arguments)

    pose = bound(PoseEstimator, settings) if settings.pose_placement == "deployment" else None
    return bound(ActionService, settings, bound(Detector, settings), pose,
                 bound(Recognizer, settings), bound(Clips, settings))
