"""Latency and throughput of the Serve graph, driven through its real endpoint by clients that
stream the rendered untrimmed test videos at their native frame rate.

    python -m benchmarks.serving [--data data/workcell] [--videos 4] [--technique-videos 2]

Serve runs locally on this machine (every deployment with the resources of
model/configs/serving/workcell.py), the clients in this process, each stream one thread with
one WebSocket (the API for continuous frames), sending frame i at i / fps and never more than
one frame ahead of its answers (a client that falls behind sends at once). Per frame it records
the client-observed latency (send to answer), the server's stage times and the answer.

  * techniques: one stream, cumulative rows from plain PyTorch with every stage waited for to
    the shipped configuration and beyond (each row adds one technique), on the first
    ``--technique-videos`` test videos;
  * one_stream: the shipped configuration (serve/config.yaml), ``--videos`` test videos at
    their native rate; ``frames_per_s`` is the sustained rate of one stream sent as fast as it
    is answered (one frame in flight), ``paced_frames_per_s`` the rate at the native pace;
    the same stream over HTTP POST per frame for comparison;
  * four_streams: four concurrent streams (different videos) at their native rate each.

End-to-end accuracy next to each row: the online action the service names for the operator
(the tracked person whose box overlaps the annotated subject's most at that frame) against the
annotation of the frame the answer is about, over every labelled frame of the streamed videos
(a frame never answered counts as wrong), and the most frequent frame class of the training
videos as the trivial baseline. Nothing here is tuned on the test videos: the configurations
were set before these runs, the shipped one from the same rows measured on the same videos
(so its choice among the rows is not independent of them; the rows' accuracies differ by
detection timing, not by a fitted parameter).

Writes benchmarks/results/serving.{json,md} and benchmarks/results/serving.png.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.environment import code_commit, environment
from model.cluster import init_ray
from model.datasets.splits import load_split_file
from model.frame_path.boxes import box_iou
from model.reports import write_report

RESULTS = Path("benchmarks/results")
FOUR = 4
# Cumulative rows: (name, the serving-config overrides that make it).
_TORCH = {"extraction_options": {"detector.backend": "torch", "pose.backend": "torch",
                                 "detector.cfg_options": {"model.test_cfg.score_thr": 0.001}},
          "recognizer.backend": "torch"}
_WAIT = {"stream.detect_every": 1, "stream.async_detection": False,
         "stream.async_recognition": False}
_ONNX = {"extraction_options": {"detector.backend": "onnx", "pose.backend": "onnx"},
         "recognizer.backend": "onnx"}
# The frame path's thread counts of earlier rows: every replica on one thread.
_ONE_THREAD = {"threads.detector": 1}
TECHNIQUES = [
    ("PyTorch, every frame detected, every stage waited for",
     {**_TORCH, **_WAIT, **_ONE_THREAD}),
    ("+ detector NMS only over boxes above the tracker's threshold (exact)",
     {**_TORCH, "extraction_options": {"detector.backend": "torch", "pose.backend": "torch"},
      **_WAIT, **_ONE_THREAD}),
    ("+ ONNX Runtime networks, NumPy pre- and post-processing (the frame path)",
     {**_ONNX, **_WAIT, **_ONE_THREAD}),
    ("+ detection every 3rd frame, keypoint tracking between",
     {**_ONNX, **_WAIT, **_ONE_THREAD, "stream.detect_every": 3}),
    ("+ asynchronous detection (off the frame's critical path)",
     {**_ONNX, **_WAIT, **_ONE_THREAD, "stream.detect_every": 3,
      "stream.async_detection": True}),
    ("+ asynchronous recognition", {**_ONE_THREAD}),
    ("+ detector on two threads (shipped)", {}),
    ("shipped + smaller detector input (320x240)",
     {"extraction_options": {"detector.cfg_options": {
         "model.test_cfg.score_thr": 0.3,
         "test_dataloader.dataset.pipeline.1.scale": (320, 240)}}}),
    ("shipped + recognizer every 2nd step (4 frames)", {"stream.recognize_every": 2}),
    ("shipped + int8 recognizer (ONNX Runtime dynamic quantization)",
     {"recognizer.int8": True, "recognizer.tolerance": 0.5}),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def stream_video(url: str, video: Video, paced: bool, transport: str = "ws",
                 http_url: str = "") -> list[dict]:
    """One stream of ``video``: per frame {latency_ms, timings_ms, answer}."""
    import httpx
    from websockets.sync.client import connect

    with httpx.Client(base_url=http_url, timeout=120) as client:
        stream = client.post("/streams", params={"fps": video.fps}).json()["stream_id"]
        records = []
        socket_ = connect(f"{url}/streams/{stream}/ws", max_size=None) \
            if transport == "ws" else None
        started = time.perf_counter()
        for i, frame in enumerate(video.frames):
            due = started + i / video.fps
            if paced and time.perf_counter() < due:
                time.sleep(due - time.perf_counter())
            sent = time.perf_counter()
            if socket_ is not None:
                socket_.send(frame)
                answer = json.loads(socket_.recv())
            else:
                answer = client.post(f"/streams/{stream}/frames", content=frame,
                                     headers={"content-type": "image/jpeg"}).json()
            if "error" in answer or "detail" in answer:
                raise RuntimeError(f"{video.video_id} frame {i}: {answer}")
            records.append({"latency_ms": (time.perf_counter() - sent) * 1e3,
                            "timings_ms": answer["timings_ms"], "answer": answer,
                            "sent_s": sent - started})
        wall = time.perf_counter() - started
        if socket_ is not None:
            socket_.close()
        client.delete(f"/streams/{stream}")
    for r in records:
        r["wall_s"] = wall
    return records


def operator_predictions(video: Video, records: list[dict], classes: list[str]) -> np.ndarray:
    """Per frame, the action the service named for the operator (-1: never answered). Answers
    name the head's steps; a frame takes the answer about the last named frame at or before
    it (what the online timeline says of it, as jobs.infer --online fills frames)."""
    index = {c: i for i, c in enumerate(classes)}
    named = np.full(len(video.frames), -1)
    for t, record in enumerate(records):
        truth = video.subject_boxes.get(t)
        persons = [p for p in record["answer"]["persons"] if p["action"] is not None]
        if truth is None or not persons:
            continue
        overlap = box_iou(np.array([p["box"] for p in persons]), truth)[:, 0]
        best = int(np.argmax(overlap))
        if overlap[best] >= 0.3:
            named[persons[best]["about_frame"]] = index[persons[best]["action"]]
    answered = np.flatnonzero(named >= 0)
    if not len(answered):
        return named
    last = np.searchsorted(answered, np.arange(len(named)), side="right") - 1
    return np.where(last >= 0, named[answered[np.maximum(last, 0)]], -1)


def summarise(runs: list[tuple[Video, list[dict]]], classes: list[str]) -> dict:
    """Latency percentiles, rates, mean stage times and the operator's frame accuracy."""
    latency = np.array([r["latency_ms"] for _, records in runs for r in records])
    stages: dict[str, list[float]] = {}
    for _, records in runs:
        for r in records:
            for key, value in r["timings_ms"].items():
                stages.setdefault(key, []).append(value)
    frames = sum(len(records) for _, records in runs)
    posed = [(r["timings_ms"]["pose_compute"], len(r["answer"]["persons"]))
             for _, records in runs for r in records if "pose_compute" in r["timings_ms"]]
    labelled = correct = 0
    for video, records in runs:
        predicted = operator_predictions(video, records, classes)
        mask = video.labels >= 0
        labelled += int(mask.sum())
        correct += int((predicted[mask] == video.labels[mask]).sum())
    per_video = {v.video_id: {"p50_ms": float(np.percentile([r["latency_ms"] for r in rec], 50)),
                              "p95_ms": float(np.percentile([r["latency_ms"] for r in rec], 95)),
                              "persons_per_frame": float(np.mean(
                                  [len(r["answer"]["persons"]) for r in rec]))}
                 for v, rec in runs}
    return {"p50_ms": float(np.percentile(latency, 50)),
            "p95_ms": float(np.percentile(latency, 95)),
            "p99_ms": float(np.percentile(latency, 99)),
            "max_ms": float(latency.max()),
            "frames": frames, "videos": [v.video_id for v, _ in runs],
            "paced_frames_per_s": frames / sum(records[0]["wall_s"] for _, records in runs),
            # Stage times are means over the frames that ran the stage, in ms; detector and
            # recognizer run beside later frames when asynchronous (not on the critical path).
            "stages": {k: float(np.mean(v)) for k, v in sorted(stages.items())},
            # The pose replica's compute per person posed (frames of one stream are posed
            # one call each; the persons of a frame go through the network together).
            "pose_compute_per_person_ms": float(sum(ms for ms, _ in posed) /
                                                max(1, sum(n for _, n in posed))),
            "stage_frames": {k: len(v) for k, v in sorted(stages.items())},
            "frame_accuracy": correct / labelled if labelled else None,
            "per_video": per_video}


def concurrent(url: str, http_url: str, videos: list[Video]) -> list[tuple[Video, list[dict]]]:
    results: dict[int, list[dict]] = {}
    errors: list[BaseException] = []

    def run(i: int, video: Video) -> None:
        try:
            results[i] = stream_video(url, video, paced=True, http_url=http_url)
        except BaseException as exc:   # re-raised below, in the benchmark's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, v)) for i, v in enumerate(videos)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [(videos[i], results[i]) for i in range(len(videos))]


def markdown(doc: dict) -> str:
    one, four = doc["one_stream"], doc["four_streams"]
    lines = ["# Serving latency and throughput (benchmarks/serving.py)", "",
             f"{doc['environment']['device']}, {doc['environment']['cpu_count']} cores; Serve "
             f"on this machine, clients streaming rendered test videos at "
             f"{doc['fps']:g} fps over WebSockets.", "",
             "| run | p50 ms | p95 ms | p99 ms | frames/s | operator frame accuracy |",
             "|---|---:|---:|---:|---:|---:|",
             f"| one stream (shipped config) | {one['p50_ms']:.1f} | {one['p95_ms']:.1f} | "
             f"{one['p99_ms']:.1f} | {one['frames_per_s']:.1f} (sustained) | "
             f"{one['frame_accuracy']:.3f} |",
             f"| one stream over HTTP POST ({one['http']['videos'][0]} only) | "
             f"{one['http']['p50_ms']:.1f} | "
             f"{one['http']['p95_ms']:.1f} | {one['http']['p99_ms']:.1f} | "
             f"{one['http']['paced_frames_per_s']:.1f} (paced) | "
             f"{one['http']['frame_accuracy']:.3f} |",
             f"| four streams | {four['p50_ms']:.1f} | {four['p95_ms']:.1f} | "
             f"{four['p99_ms']:.1f} | {four['frames_per_s']:.1f} (all streams) | "
             f"{four['frame_accuracy']:.3f} |",
             f"| trivial baseline (most frequent training frame class) | | | | | "
             f"{doc['majority_frame_accuracy']:.3f} |", "",
             f"Target for one stream: p95 <= 50 ms ({'met' if one['p95_ms'] <= 50 else 'NOT met'}"
             f") and >= 20 frames/s sustained "
             f"({'met' if one['frames_per_s'] >= 20 else 'NOT met'}).", "",
             "## What each technique buys (one stream, cumulative rows)", "",
             "| technique | p50 ms | p95 ms | p99 ms | frames/s at native pace | "
             "operator frame accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for row in doc["techniques"]:
        lines.append(f"| {row['technique']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['paced_frames_per_s']:.1f} | "
                     f"{row['frame_accuracy']:.3f} |")
    lines += ["", "## Per video, one stream (shipped configuration)", "",
              "| video | p50 ms | p95 ms | tracked persons per frame |", "|---|---:|---:|---:|"]
    lines += [f"| {v} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['persons_per_frame']:.2f} |"
              for v, r in one["per_video"].items()]
    lines += ["", "## Stage times of the shipped configuration, one stream (mean ms over the "
              "frames that ran the stage)", "", "| stage | ms | frames |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.1f} | {one['stage_frames'][k]} |" for k, v in one["stages"].items()]
    stages = doc["stages"]
    lines += ["", f"The frame path's replicas: detector compute {stages['detector_compute']:.1f} "
              f"ms per detected frame (target <= 20: "
              f"{'met' if stages['detector_compute'] <= 20 else 'NOT met'}), pose compute "
              f"{stages['pose_compute_per_person']:.1f} ms per person (target <= 8: "
              f"{'met' if stages['pose_compute_per_person'] <= 8 else 'NOT met'}); commit "
              f"`{doc['commit']}`."]
    return "\n".join(lines) + "\n"


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["techniques"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["p50_ms"] for r in rows], 0.4, label="p50")
    ax.barh(y + 0.2, [r["p95_ms"] for r in rows], 0.4, label="p95")
    ax.axvline(50, color="k", ls="--", lw=1, label="50 ms target")
    ax.set_yticks(y, [r["technique"][:48] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("client-observed latency per frame (ms), one stream")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="the built-in dataset (rendered videos + annotations)")
    p.add_argument("--videos", type=int, default=4, help="test videos of the one-stream run")
    p.add_argument("--technique-videos", type=int, default=2,
                   help="test videos per technique row")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = p.parse_args(argv)
    commit = code_commit(args.allow_dirty)

    from ray import serve

    from model.inference.ensemble import package_classes
    from serve.app import build_app
    from serve.settings import load_settings

    settings = load_settings()
    classes, _ = package_classes(settings.package)
    splits = load_split_file(args.data / "splits.json")
    test = sorted(v for v, s in splits.items() if s == "test" and "_seq" in v)
    train = sorted(v for v, s in splits.items() if s == "train" and "_seq" in v)
    needed = max(args.videos, args.technique_videos, FOUR)
    videos = [Video(args.data, v, classes) for v in tqdm(test[:needed], desc="videos")]
    counts = Counter()
    for v in train:
        counts.update(_train_labels(args.data, v, classes))
    majority = counts.most_common(1)[0][0]
    evaluated = np.concatenate([v.labels[:len(v.frames)] for v in videos[:args.videos]])
    evaluated = evaluated[evaluated >= 0]

    init_ray()
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url, http_url = f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    doc = {"commit": commit, "fps": videos[0].fps, "serving_config": settings.config_file,
           "majority_class": classes[majority],
           "majority_frame_accuracy": float(np.mean(evaluated == majority)),
           "techniques": []}
    try:
        for name, options in tqdm(TECHNIQUES, desc="techniques"):
            serve.run(build_app({"cfg_options": options}), name="workcell", route_prefix="/")
            runs = [(v, stream_video(url, v, paced=True, http_url=http_url))
                    for v in videos[:args.technique_videos]]
            doc["techniques"].append({"technique": name, "cfg_options": options,
                                      **summarise(runs, classes)})
        serve.run(build_app({}), name="workcell", route_prefix="/")
        one = summarise([(v, stream_video(url, v, paced=True, http_url=http_url))
                         for v in videos[:args.videos]], classes)
        fastest = stream_video(url, videos[0], paced=False, http_url=http_url)
        one["frames_per_s"] = len(fastest) / fastest[0]["wall_s"]
        one["unpaced"] = summarise([(videos[0], fastest)], classes)
        one["http"] = summarise([(videos[0], stream_video(url, videos[0], paced=True,
                                                           transport="http",
                                                           http_url=http_url))], classes)
        doc["one_stream"] = one
        # The shipped configuration's stage means, one stream (the contract of the frame
        # path's targets: detector and pose compute).
        doc["stages"] = {**one["stages"],
                         "pose_compute_per_person": one["pose_compute_per_person_ms"]}
        runs = concurrent(url, http_url, videos[:FOUR])
        four = summarise(runs, classes)
        four["frames_per_s"] = four["frames"] / max(records[0]["wall_s"] for _, records in runs)
        four["streams"] = FOUR
        doc["four_streams"] = four
    finally:
        serve.shutdown()
    doc["environment"] = environment()
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out / "serving", doc, markdown(doc))
    plot(doc, args.out / "serving.png")
    print(markdown(doc))
    return 0


def _train_labels(data: Path, video_id: str, classes: list[str]) -> list[int]:
    index = {c: i for i, c in enumerate(classes)}
    doc = json.loads((data / "annotations" / f"{video_id}.json").read_text())
    return [index[s["label"]] for s in doc["segments"]
            for _ in range(s["end_frame"] - s["start_frame"])]


if __name__ == "__main__":
    raise SystemExit(main())
