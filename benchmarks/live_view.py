"""The live view (serve/static/live) in a real headless Chromium: each test video is the
browser's camera (Chromium's fake capture device plays it at its frame rate), the page streams it
to the service and draws the answers; the figures are read off the page.

Per video: frames the page sent and got answered, frames the service dropped, the latency the
page measured (send -> answer), and the operator's frame accuracy of the page's answers under
the serving benchmark's rule (benchmarks/stream_accuracy.py, docs/benchmark-protocol.md), beside
the trivial baseline (the most frequent frame class of the training videos). The page records,
for every frame it sends, the camera picture's media time; a video frame's answers are those of
the frames captured while the camera showed it (the video's first pass; the fake camera loops).

    python -m benchmarks.live_view                       # every untrimmed test video
    python -m benchmarks.live_view --videos op05_seq000  # one video

Starts the shipped Serve application on a local Ray cluster (or uses --url's service). Writes
benchmarks/results/live_view.{json,md} and a screenshot of the page, docs/live_view.png (the
--screenshot-video one, at the end of its first pass).
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager, nullcontext
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.environment import code_commit, environment
from benchmarks.serving import Video, train_majority, untrimmed_videos
from benchmarks.stream_accuracy import frame_predictions, operator_answers
from model.cli import command_parser
from model.reports import write_report

RESULTS = Path("benchmarks/results")
SCREENSHOT = Path("docs/live_view.png")
# Seconds the page goes on after a video's first pass, for the answers of its last frames.
TAIL_S = 3.0
# What the page must show before it is started: the service's classes.
READY_JS = "window.liveView.classes.length > 0"
STATE_JS = """() => ({answers: window.liveView.answers, tracks: window.liveView.tracks,
  errors: window.liveView.errors, sent: window.liveView.live && window.liveView.live.sent,
  persons: [...document.querySelectorAll('#persons li')].map(li => li.dataset.action),
  segments: document.querySelectorAll('#live-timelines .seg').length,
  overlay: (() => { const c = document.getElementById('overlay');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let drawn = 0; for (let i = 3; i < px.length; i += 4) drawn += px[i] > 0;
    return drawn; })()})"""


def chromium() -> str | None:
    """Debian's Chromium (scripts/setup_env.sh installs it where it can), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def write_fake_camera(video: Path, out: Path) -> tuple[int, float]:
    """``video`` as a Y4M file (4:2:0), what Chromium's fake capture device plays. Returns its
    frame count and frame rate."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS)
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    frames = 0
    with out.open("wb") as f:
        # The frame rate as a ratio of integers, as Y4M has it.
        f.write(f"YUV4MPEG2 W{width} H{height} F{round(fps * 1000)}:1000 Ip A1:1 C420jpeg\n"
                .encode())
        while True:
            ok, image = capture.read()
            if not ok:
                break
            f.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
            frames += 1
    capture.release()
    if not frames:
        raise ValueError(f"{video}: no frame decodes")
    return frames, fps


@contextmanager
def headless_chromium(camera: Path | None = None):
    """A headless Chromium; with ``camera``, its camera is that Y4M file and pages may use it
    (without, a page asking for the camera is refused)."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed: apt-get install chromium "
                           "(scripts/setup_env.sh does where it runs as root)")
    args = [] if camera is None else [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            yield browser
        finally:
            browser.close()


def play_camera(page, url: str, seconds: float, token: str | None = None,
                screenshot: Path | None = None) -> dict:
    """Open the live view at ``url`` (the service's root), start the camera stream, and after
    ``seconds`` read the page's state (answers, timelines, errors, what is drawn), then stop."""
    page.goto(f"{url.rstrip('/')}/live/" + (f"?token={token}" if token else ""))
    page.wait_for_function(READY_JS, timeout=60_000)
    page.click("#start")
    page.wait_for_function("window.liveView.live !== null || window.liveView.errors.length",
                           timeout=60_000)
    if page.evaluate("window.liveView.errors.length"):
        return page.evaluate(STATE_JS)
    page.wait_for_timeout(seconds * 1e3)
    state = page.evaluate(STATE_JS)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    page.click("#stop")
    return state


def score(state: dict, video: Video, classes: list[str], majority: int, step_frames: int
          ) -> dict:
    """The page's figures for one video: its answers in the video's frames (the camera
    picture each sent frame showed) scored by the serving benchmark's rule."""
    frames, fps = len(video.frames), video.fps

    def frame_of(seconds: float | None) -> int | None:
        return None if seconds is None else int(round(seconds * fps))

    replies = []
    for answer in state["answers"]:
        shown = frame_of(answer["source_s"])
        if shown is None or shown >= frames:      # the camera's later passes are not scored
            continue
        persons = [{**p, "about_frame": frame_of(p["about_source_s"])}
                   for p in answer["persons"]]
        replies.append({"frame_index": shown, "persons": [
            p for p in persons if p["action"] is None or p["about_frame"] is not None]})
    answers = operator_answers(replies, video.subject_boxes, classes)
    predicted = frame_predictions(answers, frames, step_frames)
    mask = video.labels >= 0
    latency = np.array([a["latency_ms"] for a in state["answers"]
                        if a["latency_ms"] is not None])
    return {"video": video.video_id, "frames": frames, "frames_sent": state["sent"],
            "frames_answered": len(state["answers"]),
            "dropped_frames": int(sum(a["dropped"] for a in state["answers"])),
            "p50_ms": float(np.percentile(latency, 50)) if len(latency) else None,
            "p95_ms": float(np.percentile(latency, 95)) if len(latency) else None,
            "operator_accuracy": float(np.mean(predicted[mask] == video.labels[mask])),
            "majority_accuracy": float(np.mean(video.labels[mask] == majority)),
            "labelled_frames": int(mask.sum()), "timeline_segments": state["segments"],
            "overlay_pixels": state["overlay"], "errors": state["errors"]}


def markdown(doc: dict) -> str:
    t = doc["total"]
    lines = ["# Live view in a browser (benchmarks/live_view.py)", "",
             f"Headless Chromium {doc['chromium']}, each test video as the camera at its frame "
             f"rate, the page streaming it to the shipped service on this machine "
             f"({doc['environment']['cpu_count']} cores, {doc['environment']['device']}); "
             f"commit {doc['commit']}.", "",
             f"Operator frame accuracy of the page's answers: **{t['operator_accuracy']:.3f}** "
             f"over {t['labelled_frames']} labelled frames of {len(doc['videos'])} videos "
             f"(trivial baseline, the training videos' most frequent class: "
             f"{t['majority_accuracy']:.3f}); latency measured by the page, send -> answer: "
             f"p50 {t['p50_ms']:.1f} ms, p95 {t['p95_ms']:.1f} ms; "
             f"{t['dropped_frames']} of {t['frames_sent']} frames dropped by the service.", "",
             "| video | frames | sent | answered | dropped | p50 ms | p95 ms | operator accuracy "
             "| baseline | timeline segments |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["videos"]:
        lines.append(f"| {r['video']} | {r['frames']} | {r['frames_sent']} | "
                     f"{r['frames_answered']} | {r['dropped_frames']} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {r['operator_accuracy']:.3f} | "
                     f"{r['majority_accuracy']:.3f} | {r['timeline_segments']} |")
    return "\n".join(lines) + "\n"


def totals(rows: list[dict]) -> dict:
    labelled = sum(r["labelled_frames"] for r in rows)
    weighted = lambda key: sum(r[key] * r["labelled_frames"] for r in rows) / labelled  # noqa: E731
    return {"labelled_frames": labelled, "operator_accuracy": weighted("operator_accuracy"),
            "majority_accuracy": weighted("majority_accuracy"),
            "frames_sent": sum(r["frames_sent"] for r in rows),
            "dropped_frames": sum(r["dropped_frames"] for r in rows),
            # Per-video percentiles, averaged over the videos (equal lengths, paced alike).
            "p50_ms": float(np.mean([r["p50_ms"] for r in rows])),
            "p95_ms": float(np.mean([r["p95_ms"] for r in rows]))}


def build_parser():
    p = command_parser("benchmarks.live_view", __doc__)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="the built-in dataset (rendered videos + annotations)")
    p.add_argument("--videos", nargs="+", default=None,
                   help="test video ids (default: every untrimmed test video)")
    p.add_argument("--url", default=None,
                   help="a running service's root URL (default: start the shipped "
                        "application on a local Ray cluster)")
    p.add_argument("--token", default=None, help="the service's API token, if it needs one")
    p.add_argument("--screenshot-video", default="op05_seq000",
                   help="the video whose page is photographed (default: %(default)s)")
    p.add_argument("--screenshot", type=Path, default=SCREENSHOT,
                   help="where the screenshot goes (default: %(default)s)")
    p.add_argument("--work-dir", type=Path, default=Path("outputs/live_view"),
                   help="camera files and finished videos, kept for a run that resumes")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    return p


@contextmanager
def shipped_service():
    """The shipped application on a local Ray cluster; yields its root URL."""
    from ray import serve

    from model.cluster import free_port, init_ray
    from serve.app import build_app

    init_ray()
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_app({}), name="workcell", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commit = code_commit(args.allow_dirty)
    from model.datasets.window_dataset import seconds_to_frames
    from model.inference.ensemble import package_classes
    from model.inference.timeline_head import load_timeline_head
    from serve.settings import load_settings

    settings = load_settings()
    classes, _ = package_classes(settings.package)
    videos = args.videos or untrimmed_videos(args.data, "test")
    majority = train_majority(args.data, untrimmed_videos(args.data, "train"), classes)
    step_s = load_timeline_head(settings.package).step_s
    partial = args.work_dir / "videos.json"
    done = json.loads(partial.read_text()) if partial.exists() else {}
    if done.get("commit") != commit:
        done = {"commit": commit, "rows": {}}
    args.work_dir.mkdir(parents=True, exist_ok=True)
    service = shipped_service() if args.url is None else nullcontext(args.url)
    with service as url:
        for video_id in tqdm(videos, desc="videos"):
            if video_id in done["rows"]:
                continue
            video = Video(args.data, video_id, classes)
            camera = args.work_dir / "camera.y4m"
            frames, fps = write_fake_camera(args.data / "videos" / f"{video_id}.mp4", camera)
            with headless_chromium(camera.resolve()) as browser:
                page = browser.new_page(viewport={"width": 1300, "height": 760})
                shot = args.screenshot if video_id == args.screenshot_video else None
                state = play_camera(page, url, frames / fps + TAIL_S, args.token, shot)
                version = browser.version
            # What the page held, for a look at the answers behind the figures.
            (args.work_dir / f"{video_id}.page.json").write_text(json.dumps(state))
            step_frames = seconds_to_frames(step_s, video.fps)
            done["rows"][video_id] = {**score(state, video, classes, majority, step_frames),
                                      "chromium": version}
            partial.write_text(json.dumps(done))
    rows = [done["rows"][v] for v in videos]
    doc = {"commit": commit, "chromium": rows[0]["chromium"], "tail_s": TAIL_S,
           "majority_class": classes[majority], "total": totals(rows), "videos": rows,
           "environment": environment()}
    write_report(args.out / "live_view", doc, markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
