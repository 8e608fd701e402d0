"""Latency, throughput and accuracy of the Serve graph, paced like cameras: every untrimmed test
video is streamed over a WebSocket at its own frame rate, and the operator's action is scored
in the same run.

    python -m benchmarks.serving [--data data/workcell] [--rows one_stream four_streams ...]

Serve runs locally on this machine (the deployments' resources of
model/configs/serving/workcell.py); the clients run in this process, so on a 2-core machine
they share the cores with the service. A row plays every untrimmed test video once, dealt
round-robin over its concurrent streams; each stream plays its videos one after another, each
video a stream of its own (opened, streamed, closed) as a camera would. A camera sends frame i
at i / fps whatever the answers (a reader thread takes the answers as they come); the service
drops what it cannot serve in time (the newest frame wins, serve/overload.py) and counts it.

  * one_stream, four_streams, eight_streams: the shipped configuration, paced;
  * unpaced: one stream sent as fast as it is answered (one frame in flight), on the first
    ``--unpaced-videos`` videos: the maximum rate of one stream, not a camera's load;
  * techniques: what each latency technique buys, cumulative rows from plain PyTorch with every
    stage waited for to the shipped configuration and beyond, each paced with
    ``--technique-streams`` concurrent streams over every test video.

Latency is client-observed, from sending a frame to receiving its answer, over the frames
answered. The operator's frame accuracy follows benchmarks/stream_accuracy.py (the rule written
in docs/benchmark-protocol.md), beside the trivial baseline: the most frequent frame class of the
training videos. Rows are kept in ``--work-dir`` as they finish, so a run that stops resumes
with the rows it lacks (only rows of the same commit and settings are reused).

Writes benchmarks/results/serving.{json,md} and benchmarks/results/serving.png.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.environment import code_commit, environment
from benchmarks.stream_accuracy import delays_frames, frame_predictions, operator_answers
from model.cli import command_parser
from model.cluster import free_port, init_ray
from model.datasets.splits import load_split_file
from model.reports import write_report

RESULTS = Path("benchmarks/results")
SHIPPED_ROWS = {"one_stream": 1, "four_streams": 4, "eight_streams": 8}
# Seconds a client waits for an answer before it calls the stream failed.
ANSWER_TIMEOUT_S = 60.0
# Cumulative rows: (name, the serving-config overrides that make it).
_TORCH = {"extraction_options": {"detector.backend": "torch", "pose.backend": "torch",
                                 "detector.cfg_options": {"model.test_cfg.score_thr": 0.001}},
          "recognizer.backend": "torch"}
_WAIT = {"stream.detect_every": 1, "stream.async_detection": False,
         "stream.async_recognition": False}
_ONNX = {"extraction_options": {"detector.backend": "onnx", "pose.backend": "onnx"},
         "recognizer.backend": "onnx"}
_ONE_THREAD = {"threads.detector": 1}
# What the rows before the serving process changes had: the pose model in its own deployment,
# Serve's access log on, the detector at the ingress's priority.
_PLAIN_SERVE = {"pose_placement": "deployment", "niceness.detector": 0,
                **{f"deployments.{d}.logging_config.enable_access_log": True
                   for d in ("ActionService", "Detector", "PoseEstimator", "Recognizer")}}


TECHNIQUES = [
    ("PyTorch, every frame detected, every stage waited for",
     {**_PLAIN_SERVE, **_TORCH, **_WAIT, **_ONE_THREAD}),
    ("+ detector NMS only over boxes above the tracker's threshold (exact)",
     {**_PLAIN_SERVE, **_TORCH,
      "extraction_options": {"detector.backend": "torch", "pose.backend": "torch"},
      **_WAIT, **_ONE_THREAD}),
    ("+ ONNX Runtime networks, NumPy pre- and post-processing (the frame path)",
     {**_PLAIN_SERVE, **_ONNX, **_WAIT, **_ONE_THREAD}),
    ("+ detection every 3rd frame, keypoint tracking between",
     {**_PLAIN_SERVE, **_ONNX, **_WAIT, **_ONE_THREAD, "stream.detect_every": 3}),
    ("+ asynchronous detection (off the frame's critical path)",
     {**_PLAIN_SERVE, **_ONNX, **_WAIT, **_ONE_THREAD, "stream.detect_every": 3,
      "stream.async_detection": True}),
    ("+ asynchronous recognition", {**_PLAIN_SERVE, **_ONE_THREAD}),
    ("+ detector on two threads", {**_PLAIN_SERVE}),
    ("+ no access log line per call, detector at a lower CPU priority",
     {"pose_placement": "deployment"}),
    ("+ pose model in the ingress process, no handle call per frame (shipped)", {}),
    ("shipped + recognizer every 2nd step (4 frames)", {"stream.recognize_every": 2}),
    ("shipped + int8 recognizer (ONNX Runtime dynamic quantization)",
     {"recognizer.int8": True, "recognizer.tolerance": 0.5}),
]


class Video:
    """A test video: its frames JPEG-encoded (as a camera sends them), its frame labels and
    the annotated subject's box per frame."""

    def __init__(self, data: Path, video_id: str, classes: list[str]):
        doc = json.loads((data / "annotations" / f"{video_id}.json").read_text())
        self.video_id, self.fps = video_id, float(doc["video"]["fps"])
        capture = cv2.VideoCapture(str(data / doc["video"]["file"]))
        self.frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            self.frames.append(cv2.imencode(".jpg", frame)[1].tobytes())
        capture.release()
        index = {c: i for i, c in enumerate(classes)}
        self.labels = np.full(len(self.frames), -1)
        subject = np.full(len(self.frames), -1)
        for s in doc["segments"]:
            self.labels[s["start_frame"]:s["end_frame"]] = index[s["label"]]
            subject[s["start_frame"]:s["end_frame"]] = s["person_track_id"]
        self.subject_boxes = {f["index"]: np.array(p["box"], np.float32)
                              for f in doc["frames"] for p in f["persons"]
                              if f["index"] < len(subject) and p["track_id"] == subject[f["index"]]}


def play(ws_url: str, http_url: str, video: Video, paced: bool) -> dict:
    """Stream ``video`` once: ``paced``, frame i is sent at i / fps whatever the answers;
    otherwise each frame goes when the one before is answered. Returns the send times, the
    answers and the refusals (each with its receive time), the wall time, and ``failure``:
    why the stream broke off (the socket lost or an answer later than ANSWER_TIMEOUT_S), or
    None."""
    import httpx
    from websockets.sync.client import connect

    n = len(video.frames)
    sent = np.full(n, np.nan)
    replies: list[dict] = []
    answered = threading.Event()
    failure: list[BaseException] = []
    with httpx.Client(base_url=http_url, timeout=ANSWER_TIMEOUT_S) as client:
        response = client.post("/streams", params={"fps": video.fps})
        response.raise_for_status()
        stream = response.json()["stream_id"]
        with connect(f"{ws_url}/streams/{stream}/ws", max_size=None) as socket_:
            def read() -> None:
                try:
                    while True:
                        reply = json.loads(socket_.recv(timeout=ANSWER_TIMEOUT_S))
                        reply["received_s"] = time.perf_counter()
                        replies.append(reply)
                        answered.set()
                        if reply.get("frame_index") == n - 1:
                            return
                except BaseException as exc:   # re-raised below, in the client's thread
                    failure.append(exc)
                    answered.set()

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            started = time.perf_counter()
            for i, frame in enumerate(video.frames):
                if paced:
                    wait = started + i / video.fps - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                elif i:
                    answered.wait(ANSWER_TIMEOUT_S)
                    answered.clear()
                if failure:
                    break
                sent[i] = time.perf_counter()
                socket_.send(frame)
            reader.join(ANSWER_TIMEOUT_S)
            wall = time.perf_counter() - started
        client.delete(f"/streams/{stream}")
    refusals = [r for r in replies if "error" in r]
    return {"video": video, "sent": sent, "replies": [r for r in replies if "error" not in r],
            "refused": len(refusals), "refusals": refusals, "wall_s": wall,
            "failure": f"{video.video_id}: the stream failed: {failure[0]!r}" if failure else None}


class CpuLoad:
    """The share of every core's time busy between start and stop (/proc/stat): service and
    clients together."""

    def __enter__(self):
        self.start = self._times()
        return self

    def __exit__(self, *_):
        end = self._times()
        busy, total = end[0] - self.start[0], end[1] - self.start[1]
        self.load = busy / total if total else 0.0

    @staticmethod
    def _times() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]     # idle + iowait
        return sum(fields) - idle, sum(fields)


def run_row(ws_url: str, http_url: str, videos: list[Video], streams: int, paced: bool
            ) -> list[list[dict]]:
    """Every video once, dealt round-robin over ``streams`` concurrent clients; per client
    the plays of its videos, in order."""
    plays: list[list[dict]] = [[] for _ in range(streams)]
    errors: list[BaseException] = []
    bar = tqdm(total=len(videos), desc=f"{streams} stream(s)", unit="video", leave=False)

    def client(k: int) -> None:
        try:
            for video in videos[k::streams]:
                plays[k].append(play(ws_url, http_url, video, paced))
                if plays[k][-1]["failure"]:
                    raise RuntimeError(plays[k][-1]["failure"])
                bar.update()
        except BaseException as exc:   # re-raised below, in the benchmark's thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    if errors:
        raise errors[0]
    return plays


def summarise(plays: list[list[dict]], classes: list[str], majority: int, step_frames: int
              ) -> dict:
    """Latency percentiles, achieved rates, drops, stage times, delays and the operator's
    frame accuracy of one row."""
    flat = [p for stream in plays for p in stream]
    latency, stages, delays, ages = [], {}, [], []
    sent = answered = dropped = refused = labelled = correct = baseline = 0
    per_video = {}
    for p in flat:
        video, replies = p["video"], p["replies"]
        for r in replies:
            latency.append((r["received_s"] - p["sent"][r["frame_index"]]) * 1e3)
            for key, value in r["timings_ms"].items():
                if key != "detection_age_frames":     # frames, not ms: reported on its own
                    stages.setdefault(key, []).append(value)
            if "detection_age_frames" in r["timings_ms"]:
                ages.append(r["timings_ms"]["detection_age_frames"])
        sent += int(np.isfinite(p["sent"]).sum())
        answered += len(replies)
        dropped += sum(r["dropped_frames"] for r in replies)
        refused += p["refused"]
        answers = operator_answers(replies, video.subject_boxes, classes)
        delays += delays_frames(answers).tolist()
        predicted = frame_predictions(answers, len(video.frames), step_frames)
        mask = video.labels >= 0
        hits = int((predicted[mask] == video.labels[mask]).sum())
        labelled, correct = labelled + int(mask.sum()), correct + hits
        baseline += int((video.labels[mask] == majority).sum())
        per_video[video.video_id] = {"operator_accuracy": hits / max(1, int(mask.sum())),
                                     "frames": len(video.frames), "answered": len(replies)}
    rates = [sum(len(p["replies"]) for p in stream) / sum(p["wall_s"] for p in stream)
             for stream in plays if stream]
    latency = np.array(latency)
    fps = flat[0]["video"].fps
    return {"streams": len(plays), "videos": [p["video"].video_id for p in flat],
            "frames_sent": sent, "frames_answered": answered, "dropped_frames": dropped,
            "dropped_fraction": dropped / sent if sent else None, "refused_frames": refused,
            "p50_ms": float(np.percentile(latency, 50)),
            "p95_ms": float(np.percentile(latency, 95)),
            "p99_ms": float(np.percentile(latency, 99)), "max_ms": float(latency.max()),
            "frames_per_s_per_stream": float(np.mean(rates)),
            "min_frames_per_s_per_stream": float(np.min(rates)),
            # Stage times are means over the answered frames that ran the stage, in ms; the
            # detector and recognizer run beside later frames when asynchronous.
            "stages": {k: float(np.mean(v)) for k, v in sorted(stages.items())},
            "stage_frames": {k: len(v) for k, v in sorted(stages.items())},
            # How many frames old an asynchronous detection is when the tracker takes it.
            "mean_detection_age_frames": float(np.mean(ages)) if ages else None,
            "median_delay_s": float(np.median(delays)) / fps if delays else None,
            "operator_accuracy": correct / labelled if labelled else None,
            "majority_accuracy": baseline / labelled if labelled else None,
            "labelled_frames": labelled, "per_video": per_video}


def measure(name: str, options: dict, streams: int, paced: bool, videos: list[Video],
            urls: tuple[str, str], classes: list[str], majority: int, step_frames: int
            ) -> dict:
    """One row on the application deployed with ``options``."""
    with CpuLoad() as cpu:
        plays = run_row(*urls, videos, streams, paced)
    return {"row": name, "cfg_options": options, "paced": paced,
            **summarise(plays, classes, majority, step_frames), "cpu_load": cpu.load}


def markdown(doc: dict) -> str:
    lines = ["# Serving: paced streams (benchmarks/serving.py)", "",
             f"{doc['environment']['device']}, {doc['environment']['cpu_count']} cores; Serve on "
             f"this machine, clients in the same machine streaming the {doc['test_videos']} "
             f"untrimmed test videos over WebSockets at their {doc['fps']:g} fps (each frame "
             f"sent on time whatever the answers; what the service cannot serve in time is "
             f"dropped, the newest frame wins). Latency: client send to answer of the same "
             f"frame. Operator accuracy: benchmarks/stream_accuracy.py. Commit "
             f"`{doc['commit']}`.", "",
             "| row | streams | p50 ms | p95 ms | p99 ms | frames/s per stream (min) | "
             "dropped | CPU load | operator accuracy | median delay s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def line(name: str, r: dict) -> str:
        return (f"| {name} | {r['streams']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['frames_per_s_per_stream']:.1f} "
                f"({r['min_frames_per_s_per_stream']:.1f}) | {100 * r['dropped_fraction']:.1f} % "
                f"| {100 * r['cpu_load']:.0f} % | {r['operator_accuracy']:.3f} | "
                f"{r['median_delay_s']:.2f} |")

    for key in SHIPPED_ROWS:
        if key in doc:
            lines.append(line(key.replace("_", " "), doc[key]))
    lines.append(f"| trivial baseline (most frequent training frame class, "
                 f"{doc['majority_class']}) | | | | | | | | {doc['majority_accuracy']:.3f} | |")
    lines += ["", *target_lines(doc)]
    if "unpaced" in doc:
        u = doc["unpaced"]
        lines += ["", f"Unpaced maximum (not a camera's load): one stream sent as fast as it "
                      f"is answered, one frame in flight, {len(u['videos'])} videos: "
                      f"{u['frames_per_s_per_stream']:.1f} frames/s, p50 {u['p50_ms']:.1f} ms, "
                      f"p95 {u['p95_ms']:.1f} ms."]
    if doc.get("techniques"):
        lines += ["", f"## What each technique buys ({doc['technique_streams']} paced streams, "
                      "every test video, cumulative rows)", "",
                  "| technique | streams | p50 ms | p95 ms | p99 ms | frames/s per stream (min) "
                  "| dropped | CPU load | operator accuracy | median delay s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [line(r["row"], r) for r in doc["techniques"]]
    if "one_stream" in doc:
        one = doc["one_stream"]
        lines += ["", "## Stage times, one stream (mean ms over the answered frames that ran "
                      "the stage)", "", "| stage | ms | frames |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.2f} | {one['stage_frames'][k]} |"
                  for k, v in one["stages"].items()]
    return "\n".join(lines) + "\n"


# The service's targets on this 2-core machine: (row, key, bound, "max" or "min").
TARGETS = [("one_stream", "p95_ms", 40.0, "max"), ("one_stream", "p99_ms", 60.0, "max"),
           ("one_stream", "dropped_fraction", 0.01, "max"),
           ("one_stream", "operator_accuracy", 0.80, "min"),
           ("four_streams", "min_frames_per_s_per_stream", 14.5, "min"),
           ("four_streams", "p95_ms", 80.0, "max"),
           ("four_streams", "operator_accuracy", 0.78, "min")]


def target_lines(doc: dict) -> list[str]:
    out = []
    for row, key, bound, kind in TARGETS:
        if row not in doc:
            continue
        value = doc[row][key]
        met = value <= bound if kind == "max" else value >= bound
        out.append(f"- {row.replace('_', ' ')}: {key} {value:.3f} "
                   f"({'<=' if kind == 'max' else '>='} {bound:g}: {'met' if met else 'NOT met'})")
    return ["Targets:", "", *out] if out else []


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(k.replace("_", " "), doc[k]) for k in SHIPPED_ROWS if k in doc]
    rows += [(r["row"], r) for r in doc.get("techniques", [])]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["p50_ms"] for _, r in rows], 0.4, label="p50")
    ax.barh(y + 0.2, [r["p95_ms"] for _, r in rows], 0.4, label="p95")
    ax.axvline(50, color="k", ls="--", lw=1, label="50 ms per frame")
    ax.set_yticks(y, [name[:56] for name, _ in rows], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("client-observed latency per frame (ms, log scale), paced streams")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def untrimmed_videos(data: Path, split: str) -> list[str]:
    """The untrimmed videos (several segments each: ``*_seq*``) of a split, sorted."""
    splits = load_split_file(data / "splits.json")
    return sorted(v for v, s in splits.items() if s == split and "_seq" in v)


def train_majority(data: Path, train: list[str], classes: list[str]) -> int:
    counts = Counter()
    index = {c: i for i, c in enumerate(classes)}
    for video_id in train:
        doc = json.loads((data / "annotations" / f"{video_id}.json").read_text())
        for s in doc["segments"]:
            counts[index[s["label"]]] += s["end_frame"] - s["start_frame"]
    return counts.most_common(1)[0][0]


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("benchmarks.serving", __doc__)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="the built-in dataset (rendered videos + annotations)")
    rows = [*SHIPPED_ROWS, "unpaced", "techniques"]
    p.add_argument("--rows", nargs="+", choices=rows, default=rows, help="rows to measure")
    p.add_argument("--unpaced-videos", type=int, default=8,
                   help="test videos of the unpaced row (default: %(default)s)")
    p.add_argument("--technique-streams", type=int, default=4,
                   help="concurrent paced streams of each technique row (default: %(default)s)")
    p.add_argument("--work-dir", type=Path, default=Path("outputs/serving_benchmark"),
                   help="finished rows, kept for a run that resumes (default: %(default)s)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commit = code_commit(args.allow_dirty)

    from ray import serve

    from model.datasets.window_dataset import seconds_to_frames
    from model.inference.ensemble import package_classes
    from model.inference.timeline_head import load_timeline_head
    from serve.app import build_app
    from serve.settings import load_settings

    settings = load_settings()
    classes, _ = package_classes(settings.package)
    test = untrimmed_videos(args.data, "test")
    videos = [Video(args.data, v, classes) for v in tqdm(test, desc="encoding test videos")]
    majority = train_majority(args.data, untrimmed_videos(args.data, "train"), classes)
    fps = videos[0].fps
    step_frames = seconds_to_frames(load_timeline_head(settings.package).step_s, fps)
    settings_key = {"commit": commit, "videos": test, "unpaced_videos": args.unpaced_videos,
                    "technique_streams": args.technique_streams}
    partial = args.work_dir / "rows.json"
    done = json.loads(partial.read_text()) if partial.exists() else {}
    if done.get("settings") != settings_key:
        done = {"settings": settings_key, "rows": {}}
    plan = []
    for key, streams in SHIPPED_ROWS.items():
        if key in args.rows:
            plan.append((key, key, {}, streams, True, videos))
    if "unpaced" in args.rows:
        plan.append(("unpaced", "unpaced", {}, 1, False, videos[:args.unpaced_videos]))
    if "techniques" in args.rows:
        plan += [(f"technique {i}", name, options, args.technique_streams, True, videos)
                 for i, (name, options) in enumerate(TECHNIQUES)]

    init_ray()
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    urls = (f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    deployed = None
    try:
        for key, name, options, streams, paced, chosen in tqdm(plan, desc="rows"):
            if key in done["rows"]:
                continue
            if options != deployed:     # the shipped rows share one deployment
                serve.run(build_app({"cfg_options": options}), name="workcell",
                          route_prefix="/")
                deployed = options
            done["rows"][key] = measure(name, options, streams, paced, chosen, urls, classes,
                                        majority, step_frames)
            args.work_dir.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(done))
    finally:
        serve.shutdown()
    rows = done["rows"]
    doc = {"commit": commit, "fps": fps, "serving_config": settings.config_file,
           "test_videos": len(test), "majority_class": classes[majority],
           "majority_accuracy": rows[next(iter(rows))]["majority_accuracy"] if rows else None,
           "accuracy_rule": "benchmarks/stream_accuracy.py",
           "technique_streams": args.technique_streams,
           **{k: rows[k] for k in (*SHIPPED_ROWS, "unpaced") if k in rows},
           "techniques": [rows[f"technique {i}"] for i in range(len(TECHNIQUES))
                          if f"technique {i}" in rows],
           "environment": environment()}
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out / "serving", doc, markdown(doc))
    plot(doc, args.out / "serving.png")
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
