"""Write docs/PERFORMANCE.md from the benchmark results in benchmarks/results/.

    python -m benchmarks.performance_report

Every figure and fact in the report comes from the JSON files the benchmarks wrote (device,
library versions and data parameters included); the confusion matrices are copied next to the
report. What the figures mean is in the hand-written docs/benchmark-protocol.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from model.cli import command_parser
from model.evaluation.report import per_class_table, segmentation_table

RESULTS = Path("benchmarks/results")
DOCS = Path("docs")
IMAGES = DOCS / "images"
FROZEN = Path("benchmarks/workcell_test_set.json")
PIXELS_LEVERS = Path("benchmarks/pixels_levers.json")
NAMES = {"fused": "fused: pose + objects, cross-attention",
         "fused_concat": "fused: feature concatenation", "fused_late": "fused: late fusion",
         "pose_only": "pose only (ST-GCN++)", "object_only": "objects only (image coordinates)",
         "bag_of_classes": "baseline: bag of object classes",
         "majority": "baseline: majority class"}
ABLATIONS = ("pose_only", "object_only", "bag_of_classes", "majority")


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def describe_environment(env: dict) -> str:
    v = env["versions"]
    return (f"{env['device']}, {env['cpu_count']} CPU cores; Python {env['python']}, PyTorch "
            f"{v['torch']}, MMAction2 {v['mmaction2']}, MMEngine {v['mmengine']}, MMCV "
            f"{v['mmcv']}, Ray {v['ray']}, scikit-learn {v['scikit-learn']}")


def environments_section(groups: dict[str, list[dict]]) -> list[str]:
    """Each distinct environment the results were measured in, and which results."""
    seen: dict[str, list[str]] = {}
    for name, envs in groups.items():
        for env in envs:
            seen.setdefault(describe_environment(env), [])
            if name not in seen[describe_environment(env)]:
                seen[describe_environment(env)].append(name)
    if not seen:
        return []
    return ["## Where the figures were measured", "",
            *[f"- {text}: {', '.join(names)}" for text, names in seen.items()], ""]


def _test_set_lines(accuracy: dict) -> list[str]:
    frozen = json.loads(FROZEN.read_text())
    gen = frozen["generator"]
    facts = {json.dumps(e["test_set"], sort_keys=True) for e in accuracy.values()}
    lines = [f"**Frozen test set**: generator `{gen['name']}` version {gen['version']}, seed "
             f"{gen['seed']}, scale {gen['scale']}, {gen['fps']} fps, {gen['width']}x"
             f"{gen['height']}; test split content SHA-256 `{frozen['content_sha256']}` "
             "(`benchmarks/workcell_test_set.json`). `jobs.evaluate --frozen-test-set` refuses "
             "to report on anything else.", ""]
    for fact in sorted(facts):
        t = json.loads(fact)
        names = [k for k, e in accuracy.items()
                 if json.dumps(e["test_set"], sort_keys=True) == fact]
        sampling = (f"{t['clips_per_window']} clips of {t['clip_len']} frames sampled per "
                    "window" if t["clip_len"] else "every frame of the window")
        lines += [f"Test windows ({', '.join(names)}): {t['windows']} windows of at most "
                  f"{t['window_s']} s inside the labelled segments of {t['videos']} videos "
                  f"({t['trimmed_clips']} trimmed clips, {t['untrimmed_videos']} untrimmed) of "
                  f"{t['operators']} test operators, generator version "
                  f"{t['generator']['version']}; {sampling}. Check: {t['check']}.", ""]
    return lines


def workcell_section() -> list[str]:
    accuracy = _load("accuracy.json")
    if accuracy is None:
        return ["## Built-in workcell dataset", "", "Not measured yet: run "
                "`python -m benchmarks.workcell_accuracy`.", ""]
    lines = [
        "## Built-in workcell dataset: fused model, ablations and baselines", "",
        "Reproduce: `python -m benchmarks.workcell_accuracy` (generates the dataset with seed 0, "
        "ingests it, fits the baselines, trains and evaluates every model, then times "
        "training), then `python -m benchmarks.performance_report`.", "",
        *_test_set_lines(accuracy),
        "| model | top-1 | top-5 | macro precision | macro recall | macro F1 | timeline frame "
        "acc. (summed windows, no head) | test windows | train clips/s (median epoch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = [k for k in NAMES if k in accuracy]
    for key in order:
        m = accuracy[key]
        lines.append(
            f"| {NAMES[key]} | {_pct(m['top1'])} | {_pct(m['top5'])} | "
            f"{_pct(m['macro_precision'])} | {_pct(m['macro_recall'])} | {_pct(m['macro_f1'])} "
            f"| {_pct(m.get('timeline_frame_accuracy'))} | {m['num_test_clips']} | "
            f"{'–' if m['epochs_run'] is None else format(m['train_clips_per_s'], '.0f')} |")
    fused = accuracy.get("fused")
    if fused:
        gaps = [f"{NAMES[k]} {100 * (fused['top1'] - accuracy[k]['top1']):.1f}"
                for k in ABLATIONS if k in accuracy]
        if gaps:
            lines += ["", "Points of top-1 below the fused model: " + "; ".join(gaps) + "."]
    trained = [k for k in order if accuracy[k]["epochs_run"] is not None]
    if trained:
        lines += ["", "Training: packaged epoch of each model, "
                  "by its selection rule (`best_val`: best validation macro-F1; `last`: the "
                  "last epoch of the schedule): " + ", ".join(
                      f"{k} epoch {accuracy[k]['best_epoch']} of {accuracy[k]['epochs_run']} run "
                      f"({accuracy[k]['selection']}, {accuracy[k]['train_minutes']:.0f} min)"
                      for k in trained) + "."]
    lines.append("")
    for key in order:
        folder = RESULTS / "workcell" / key
        if not (folder / "metrics.json").exists():
            continue
        result = json.loads((folder / "metrics.json").read_text())
        IMAGES.mkdir(parents=True, exist_ok=True)
        image = IMAGES / f"workcell_{key}_confusion.png"
        shutil.copy(folder / "confusion_matrix.png", image)
        lines += [f"### {NAMES[key]}", "", f"Configuration: {accuracy[key]['config']}.", "",
                  per_class_table(result["clips"]["per_class"]), "",
                  f"![{key} confusion matrix](images/{image.name})", ""]
    throughput = _load("throughput.json")
    if throughput:
        lines += ["### Training throughput and memory (fused model)", "",
                  "| Ray Train workers | CPUs per worker | GPUs per worker | clips/s | peak "
                  "memory per worker |", "| ---: | ---: | ---: | ---: | ---: |"]
        for row in throughput.values():
            lines.append(f"| {row['num_workers']} | {row['cpus_per_worker']} | "
                         f"{row['gpus_per_worker']:g} | {row['train_clips_per_s']:.1f} | "
                         f"{row['peak_memory_mb_per_worker']:.0f} MB |")
        lines += ["", "Clips/s counts training clips of the whole job per second of training "
                  "(validation excluded), averaged over the epochs; peak memory is the resident "
                  "set size of a worker process (on a GPU: `torch.cuda.max_memory_allocated`).",
                  ""]
    return lines


def penn_section() -> list[str]:
    penn = _load("penn_action.json")
    if penn is None:
        return ["## Penn Action (real human motion, pose only)", "",
                "Not measured yet: run `python -m benchmarks.penn_action`.", ""]
    val, data, r = penn["val"], penn["data"], penn["recipe"]
    clips = val["num_clips"]
    lines = [
        "## Penn Action (real human motion, pose only)", "",
        "Reproduce: `python -m benchmarks.penn_action` (ingests "
        f"`{data['source']}` through `jobs.ingest --mmaction-pkl`, trains each ST-GCN++ "
        "stream with `jobs.train`, evaluates with `jobs.evaluate`), then "
        "`python -m benchmarks.performance_report`.", "",
        f"Split: {data['train_clips']} training clips and {data['val_clips']} validation "
        f"clips, both cut from Penn Action's official training split (stratified by class, "
        f"seed 0, frozen in `{penn['split_file']}`). The official test split is not here.", "",
        f"Recipe: every stream ({', '.join(r['streams'])}) trains {r['epochs']} epochs and "
        + ("keeps its last epoch" if r["selection"] == "last" else
           f"keeps the epoch its selection rule `{r['selection']}` picks on the validation "
           "clips") + f"; the reported model is the ensemble {r['ensemble']}; "
        f"{r['clips_per_sample']} clips of {r['clip_len']} frames per sample. "
        + ("No epoch, stream or ensemble was chosen on the validation clips in this run."
           if r["selection"] == "last" else "The validation figure is therefore optimistic.")
        + (f" Config overrides: `{penn['options']}`." if penn["options"] else ""), "",
        f"**Validation ({clips} clips), {val['configuration']}** — top-1 {_pct(val['top1'])}, "
        f"top-5 {_pct(val['top5'])}, macro F1 {_pct(val['macro_f1'])}, mean class accuracy "
        f"{_pct(val['mean_class_accuracy'])}.", "",
        "| model | val top-1 | errors |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {_pct(top1)} | {round((1 - top1) * clips)} |"
              for name, top1 in penn["variants"].items()]
    lines += ["", f"One validation clip is {100 / clips:.2f} points of top-1.", "",
              "Training time per stream (minutes): " + ", ".join(
                  f"{k} {v:.1f}" for k, v in penn["training_minutes"].items()) + ".", ""]
    folder = RESULTS / "penn_action"
    if (folder / "metrics.json").exists():
        result = json.loads((folder / "metrics.json").read_text())
        IMAGES.mkdir(parents=True, exist_ok=True)
        image = IMAGES / "penn_action_confusion.png"
        shutil.copy(folder / "confusion_matrix.png", image)
        lines += [f"### Per class ({val['configuration']}, validation split)", "",
                  per_class_table(result["clips"]["per_class"]), "",
                  f"![Penn Action confusion matrix](images/{image.name})", ""]
    return lines


def extraction_section() -> list[str]:
    """benchmarks/results/extraction.json, as benchmarks/extraction_throughput.py writes its
    Markdown, with a line on what the rows are."""
    from benchmarks.extraction_throughput import markdown

    extraction = _load("extraction.json")
    if not extraction:
        return []
    body = markdown(extraction).splitlines()
    return ["## Feature extraction from raw video (`benchmarks/extraction_throughput.py`)", "",
            "Frames/s of `jobs.extract` (the frame path, model/frame_path) on the rendered "
            "built-in test videos: the Ray Data pipeline against the plain loop over the same "
            "videos and models in the same run. workcell: the detector and pose model shipped "
            "in `trained_models/` on the whole test split (real detections, thresholds and "
            "tracks). heavy: model-zoo architectures at random weights (no checkpoint can be "
            "downloaded where this ran) on a few videos: the stages do the work trained "
            "weights would give them, the features mean nothing.", "", *body[2:], ""]


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def decomposition_lines(e: dict, dec: dict, names: list[str]) -> list[str]:
    """The loss stage by stage of benchmarks/results/pixels.json (``decomposition``)."""
    lines = ["", "### The loss stage by stage", "",
             "The same windows of the same test clips, the pose stream (persons, keypoints, the "
             "subject) and the object stream each taken from the annotations or from the "
             "extraction, scored by each recognizer:", "",
             "| pose from | objects from | " + " | ".join(
                 f"{n}: top-1 | {n}: macro F1" for n in names) + " |",
             "| --- | --- |" + " ---: | ---: |" * len(names)]
    for row, scores in dec["rows"].items():
        pose, objects = (part.rsplit("_", 1)[0] for part in row.split("+"))
        lines.append(f"| {pose} | {objects} | " + " | ".join(
            f"{scores[n]['top1']:.3f} | {scores[n]['macro_f1']:.3f}" for n in names) + " |")
    lines += [f"| trivial: always {e['majority_class']} (most frequent training label) | | "
              + " | ".join(f"{e['majority_top1']:.3f} | {e['majority_macro_f1']:.3f}"
                           for _ in names) + " |", ""]
    s, k = dec["subject"], dec["keypoints"]
    lines += [f"Subject: the extracted subject is the annotated operator on {s['matched']} of "
              f"{s['frames']} labelled frames ({_f(s['fraction'])}); no subject on "
              f"{s['no_subject']}.", "",
              f"Keypoints that reach the features (matched subject, joints present in both "
              f"tables): PCK@{k['pck_thr']} {_f(k['pck'])}, median error "
              f"{_f(k['median_error'])} of the box size over {k['joints_compared']} joints; "
              f"{_f(k['missing_in_extracted'])} of the annotated joints missing in the "
              "extraction. Per joint PCK: " + ", ".join(
                  f"{j} {_f(v)}" for j, v in k["pck_per_joint"].items()) + ".", "",
              f"Objects that reach the features (tracked), frame level, matched one-to-one "
              f"by IoU >= {dec['min_iou']} against the annotated tracked objects (object "
              f"tracks per video: annotated "
              f"{_f(dec['object_tracks_per_video']['annotated'])}, extracted "
              f"{_f(dec['object_tracks_per_video']['extracted'])}):", "",
              "| class | recall | precision | annotated | extracted |",
              "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {c} | {_f(dec['object_recall'][c])} | {_f(dec['object_precision'][c])} | "
              f"{dec['annotated'][c]} | {dec['extracted'][c]} |" for c in dec["object_recall"]]
    m = dec.get("mismatches")
    if m:
        w, h = m["subject_box_size_ratio_wh"] or (None, None)
        cx, cy = m["subject_box_centre_shift_wh"] or (None, None)
        lines += ["", "Systematic mismatches between the tables (matched subject frames): "
                  f"the extracted joints sit closest to the annotated ones at frame offset "
                  f"{m['closest_frame_offset']} (median error by offset: " + ", ".join(
                      f"{d}: {v:.3f}" for d, v in m["keypoint_error_by_frame_offset"].items())
                  + f"); left/right pairs swapped: {_f(m['left_right_swapped_fraction'])}; "
                  f"extracted subject box / annotated: width {_f(w)}, height {_f(h)}, centre "
                  f"shift {_f(cx)}, {_f(cy)} of the box size; mean score of present joints: "
                  f"annotated {_f(m['mean_joint_score']['annotated'])}, extracted "
                  f"{_f(m['mean_joint_score']['extracted'])}."]
    return lines


def _committed_results(commit: str, name: str) -> dict:
    """A results file as committed in ``commit``: each lever's row is its own run of the
    benchmark, kept in git history rather than copied into one file of mixed runs."""
    shown = subprocess.run(["git", "show", f"{commit}:{RESULTS / name}"], capture_output=True,
                           text=True, check=True)
    return json.loads(shown.stdout)


def lever_rows(levers: list[dict]) -> list[str]:
    """One row per lever of benchmarks/pixels_levers.json: which figure each lever moved."""
    names = {"extracted_pose+annotation_objects": "extracted pose, annotated objects",
             "annotation_pose+extracted_objects": "annotated pose, extracted objects"}
    lines = ["| lever | results in | detector mAP@0.5 | lowest class AP@0.5 | pose PCK@0.1 | "
             + " | ".join(f"top-1: {n}" for n in names.values())
             + " | end-to-end top-1 | end-to-end macro F1 |",
             "| --- | --- |" + " ---: |" * (5 + len(names))]
    for lever in levers:
        px = _committed_results(lever["results_commit"], "pixels.json")
        d, e = px["detector"], px["end_to_end"]
        per_class = d.get("per_class_ap50")
        rows = px.get("decomposition", {}).get("rows", {})
        recognizer = lever["recognizer"]
        cells = [_f(rows[row][recognizer]["top1"]) if row in rows else "–" for row in names]
        end = rows.get("extracted_pose+extracted_objects", {}).get(recognizer) or e
        lines.append(f"| {lever['lever']} | `{lever['results_commit']}` | {d['map50']:.3f} | "
                     f"{_f(min(per_class.values())) if per_class else '–'} | "
                     f"{px['pose']['pck']:.3f} | " + " | ".join(cells)
                     + f" | {end['top1']:.3f} | {end['macro_f1']:.3f} |")
    return lines


def pixels_section() -> list[str]:
    pixels = _load("pixels.json")
    if not pixels:
        return []
    d, p, e = pixels["detector"], pixels["pose"], pixels.get("end_to_end")
    lines = ["## Pixels to actions (`benchmarks/pixels.py`)", "",
             "The detector and the pose model trained on the rendered frames of the train split "
             "(`jobs.train_detector`, `jobs.train_pose`; [docs/perception.md](perception.md)), "
             "measured on the test split's frames and persons, which no training saw; then the "
             "whole chain on the frozen test clips: features extracted from the raw test MP4s "
             "with the trained models, scored by the shipped recognizer, next to the same "
             "clips from their annotations.", "",
             f"Commit `{pixels.get('commit', 'not recorded')}`, one run.", "",
             "| stage | metric | trained | trivial baseline |", "| --- | --- | ---: | ---: |",
             f"| detector | COCO bbox mAP@0.5 | {d['map50']:.3f} | {d['untrained_map50']:.3f} "
             "(same architecture, untrained) |",
             f"| detector | COCO bbox mAP@[.5:.95] | {d['map']:.3f} | |",
             f"| pose | PCK@{p['pck_thr']} (of the box size) | {p['pck']:.3f} | "
             f"{p['mean_pose_pck']:.3f} (the training persons' mean pose in the true box) |",
             f"| pose | COCO keypoint AP | {p['ap']:.3f} | |"]
    if e:
        lines += [f"| end to end | top-1, features from the MP4s | {e['top1']:.3f} | "
                  f"{e['majority_top1']:.3f} (always {e['majority_class']}, the most frequent "
                  "training label) |",
                  f"| end to end | macro F1, features from the MP4s | {e['macro_f1']:.3f} | "
                  f"{e['majority_macro_f1']:.3f} |",
                  f"| reference | top-1, the same clips from the annotations | "
                  f"{e['annotations_top1']:.3f} | |",
                  f"| reference | macro F1, the same clips from the annotations | "
                  f"{e['annotations_macro_f1']:.3f} | |", "",
                  f"Shipped recognizer `{e['recognizer']}`; {e['windows']} windows of "
                  f"{e['clips']} trimmed test clips (ids matching `{e['clip_pattern']}`; "
                  f"annotation table: {e['annotations_test_set']}); extraction of "
                  f"{e['extraction_frames']} frames at {e['extraction_frames_per_s']:.1f} "
                  "frames/s (Ray Data pipeline, 2 actors; resumable: a rerun reuses the table "
                  "and reports the rate of the videos it extracted)."]
        lines += ["", "Recognizers: " + "; ".join(
            f"{name} `{package}`" for name, package in pixels["recognizers"].items()) +
            " (the perception fine-tune: [training manual §10](training.md#10-a-recognizer-"
            "for-features-from-pixels))."]
        lines += decomposition_lines(e, pixels["decomposition"], list(pixels["recognizers"]))
    lines += ["", "Detector AP@0.5 per class: " + ", ".join(
        f"{k} {v:.3f}" for k, v in d["per_class_ap50"].items()), ""]
    if PIXELS_LEVERS.exists():
        levers = json.loads(PIXELS_LEVERS.read_text())["levers"]
        lines += ["### Which lever moved which row", "",
                  f"Each row is its own run of this benchmark, read from `{RESULTS}/pixels.json` "
                  f"as committed in the named commit (`{PIXELS_LEVERS}` lists them); rows are "
                  "cumulative, the recognizer is the one that run shipped unless the lever "
                  "says otherwise.", "", *lever_rows(levers), ""]
    lines += [
        "Targets: detector mAP@0.5 >= 0.90 with every class >= 0.75, pose PCK@0.1 >= 0.92, "
        "end-to-end top-1 >= 0.90 and macro F1 >= 0.88 on every test clip, annotations "
        "top-1 >= 0.95.", ""]
    return lines


def timeline_table(timeline: dict) -> list[str]:
    """The alternatives and the shipped head of benchmarks/results/timeline.json."""
    return segmentation_table(
        [(f"{r['mode']}: {r['method']}", r) for r in timeline["alternatives"]] +
        [(f"{m}: **shipped**, {timeline[m]['method']}", timeline[m])
         for m in ("offline", "online")])


def timeline_pixels_table(px: dict) -> list[str]:
    """timeline.json's ``from_pixels``: both packages on the extracted features, the video
    package on the annotation features."""
    sources = [(px["package"], "MP4s", px),
               (px["annotation_trained"]["package"], "MP4s", px["annotation_trained"]),
               (px["package"], "annotations", px["on_annotations"])]
    rows = [(f"{mode}: `{package}` from {source}", figures[mode])
            for package, source, figures in sources for mode in ("offline", "online")]
    off, on = px["offline"]["frame_accuracy"], px["online"]["frame_accuracy"]
    return ["From pixels: the same videos' features extracted from their MP4s "
            f"(`{px['table']}`), each package with its own head and decoders (chosen on its "
            "validation features).", "", *segmentation_table(rows), "",
            "Targets from pixels: offline frame accuracy >= 0.85, online >= 0.80: "
            f"**{'met' if off >= 0.85 and on >= 0.80 else 'NOT met'}** ({off:.3f}, {on:.3f})."]


def timeline_section() -> list[str]:
    timeline = _load("timeline.json")
    if not timeline:
        return []
    off, on, clips, pp = (timeline["offline"], timeline["online"], timeline["clips"],
                          timeline["per_person"])
    target = {"offline": off["frame_accuracy"] >= 0.90 and off["f1_50"] >= 85
              and off["edit"] >= 85,
              "online": on["frame_accuracy"] >= 0.85 and on["median_delay_s"] is not None
              and on["median_delay_s"] <= 1.0}
    return ["## Action timelines of untrimmed videos (`benchmarks/timeline.py`)", "",
            f"The {off['videos']} untrimmed test videos ({off['frames']} frames, "
            f"{timeline['test_set_check']}), per frame, by the shipped recognizer's timeline "
            f"head (windows of {timeline['windows_s']} s every {timeline['step_s']} s, "
            "MS-TCN, decoders; every setting chosen on the validation videos; protocol: "
            "[benchmark protocol](benchmark-protocol.md#action-timelines-benchmarkstimelinepy))."
            f" Edit and F1@k leave `{'`, `'.join(timeline['background'])}` out of the "
            "segments (MS-TCN protocol).", "", *timeline_table(timeline), "",
            f"Targets: offline frame accuracy >= 90 %, F1@50 >= 85, edit >= 85: "
            f"**{'met' if target['offline'] else 'NOT met'}** ({100 * off['frame_accuracy']:.1f}"
            f" %, {off['f1_50']:.1f}, {off['edit']:.1f}); online frame accuracy >= 85 % with a "
            f"median detection delay <= 1 s: **{'met' if target['online'] else 'NOT met'}** "
            f"({100 * on['frame_accuracy']:.1f} %, "
            + ("missed" if on["median_delay_s"] is None else f"{on['median_delay_s']:.2f} s")
            + "; p90 "
            + ("missed" if on["p90_delay_s"] is None else f"{on['p90_delay_s']:.2f} s")
            + f", {on['missed']} of {on['segments']} actions never named). Clip top-1 of the same "
            f"recognizer on the {clips['clips']} frozen test clips: {100 * clips['top1']:.1f} % "
            "(target >= 97 %).", "",
            f"Per person: in the {pp['videos_with_others']} test videos with a passer-by, "
            "removing every other person's pose changes "
            f"{100 * pp['offline_changed_fraction']:.2f} % of the operator's offline and "
            f"{100 * pp['online_changed_fraction']:.2f} % of the online timeline frames.", "",
            *((timeline_pixels_table(timeline["from_pixels"]) + [""])
              if "from_pixels" in timeline else []),
            "![timelines](../benchmarks/results/timeline.png)", ""]


def serving_section() -> list[str]:
    """benchmarks/results/serving.json, as benchmarks/serving.py writes its Markdown."""
    from benchmarks.serving import markdown

    serving = _load("serving.json")
    if serving is None:
        return []
    if "accuracy_rule" not in serving:
        # A file of the earlier protocol (one chosen video, clients waiting for each answer):
        # its figures are not comparable with the paced protocol's and are not shown.
        return ["## Serving", "",
                f"`benchmarks/results/serving.json` (commit `{serving['commit']}`) was made with "
                "an earlier protocol than benchmarks/serving.py's paced one "
                "(docs/benchmark-protocol.md); its figures are not shown until the benchmark "
                "is run again.", ""]
    body = markdown(serving).splitlines()
    # One level down: the report's own sections are "##".
    body = [("#" + line) if line.startswith("#") else line for line in body]
    return [*body, "", "![latency per technique](../benchmarks/results/serving.png)", ""]


def tuning_section() -> list[str]:
    """benchmarks/results/tuning.json (benchmarks/tuning.py)."""
    from benchmarks.tuning import markdown

    tuning = _load("tuning.json")
    if tuning is None:
        return []
    asha, fifo = tuning["asha"], tuning["no_early_stopping"]
    budget = asha["budget_per_trial"]["train_cfg"]["max_epochs"]
    return ["## Hyperparameter search (`benchmarks/tuning.py`)", "",
            f"{asha['trials']} trials of `{tuning['space']}`, the same draws in both sweeps, "
            f"{budget} epochs at most per trial, one trial per CPU (2 at a time); the built-in "
            "generator with a third of the operators (`workcell_synth/configs/small.py`, "
            "seed 0). Validation macro-F1 picks the best trial; its `best_config.py` is "
            "retrained by jobs.train and scored on the test split, which no sweep saw.", "",
            *markdown(tuning).splitlines(), "",
            f"ASHA trained {asha['epochs_trained']} epochs against {fifo['epochs_trained']} "
            f"({asha['wall_s'] / fifo['wall_s']:.2f} of the wall time) and kept the same best "
            f"trial{'' if asha['best_config'] == fifo['best_config'] else ' (NOT the same)'}. "
            f"At this budget the best draw ({Path(asha['best_config']['config']).stem}) beats "
            f"the shipped config on validation ({asha['best_val_macro_f1']:.3f} against "
            f"{tuning['shipped_config']['val_macro_f1']:.3f}); whether it also does at the "
            "shipped schedule (40 epochs) on the full data was not measured, and the shipped "
            "model is unchanged. The retrained best config scores "
            f"{asha['retrained']['val_macro_f1']:.3f} on validation, not the trial's "
            f"{asha['best_val_macro_f1']:.3f} (retrained on 2 threads instead of the trial's "
            "1; that this is the cause is not established). Per-trial tables: "
            "[ASHA](../benchmarks/results/tuning_asha_trials.md), "
            "[no early stopping](../benchmarks/results/tuning_no_early_stopping_trials.md).", "",
            "![best validation macro-F1 against time and trials]"
            "(../benchmarks/results/tuning.png)", ""]


def live_view_section() -> list[str]:
    """benchmarks/results/live_view.json, as benchmarks/live_view.py writes its Markdown."""
    from benchmarks.live_view import markdown

    live = _load("live_view.json")
    if live is None:
        return []
    body = [("#" + line) if line.startswith("#") else line
            for line in markdown(live).splitlines()]
    return [*body, "", "![the live view](live_view.png)", ""]


def faults_section() -> list[str]:
    """benchmarks/results/faults.json (benchmarks/faults.py)."""
    from benchmarks.faults import markdown

    faults = _load("faults.json")
    if faults is None:
        return []
    return ["## Surviving failures (`benchmarks/faults.py`)", "",
            f"A local Ray cluster of {faults['cluster']['nodes']} nodes on this machine "
            f"({faults['cluster']['cpus_per_node']} CPU each; the two workers offer "
            f"`{faults['cluster']['custom_resource']}`), the tests' tiny built-in dataset; the "
            "Serve cases on the shipped service. Each failure is injected into the real job "
            "and compared with a clean run.", "", *markdown(faults).splitlines(), ""]


def main(argv: list[str] | None = None) -> int:
    command_parser("benchmarks.performance_report", __doc__).parse_args(argv)
    accuracy = _load("accuracy.json") or {}
    throughput = _load("throughput.json") or {}
    penn = _load("penn_action.json")
    extraction = _load("extraction.json")
    pixels = _load("pixels.json")
    timeline = _load("timeline.json")
    serving = _load("serving.json")
    tuning = _load("tuning.json")
    faults = _load("faults.json")
    live = _load("live_view.json")
    lines = ["# Performance report", "",
             "Generated by `python -m benchmarks.performance_report` from "
             "`benchmarks/results/*.json`; do not edit by hand. How the figures were obtained "
             "and how to read them: [benchmark protocol](benchmark-protocol.md).", ""]
    lines += environments_section({
        **{f"workcell {k}": [e["environment"]] for k, e in accuracy.items()},
        **{f"throughput {k}": [e["environment"]] for k, e in throughput.items()},
        **({"Penn Action": [penn["environment"]]} if penn else {}),
        **({"extraction": [extraction["environment"]]} if extraction else {}),
        **({"pixels": [pixels["environment"]]} if pixels else {}),
        **({"timeline": [timeline["environment"]]} if timeline else {}),
        **({"serving": [serving["environment"]]} if serving else {}),
        **({"live view": [live["environment"]]} if live else {}),
        **({"tuning": [tuning["environment"]]} if tuning else {}),
        **({"faults": [faults["environment"]]} if faults else {})})
    lines += workcell_section()
    lines += penn_section()
    lines += extraction_section()
    lines += timeline_section()
    lines += pixels_section()
    lines += serving_section()
    lines += live_view_section()
    lines += tuning_section()
    lines += faults_section()
    (DOCS / "PERFORMANCE.md").write_text("\n".join(lines))
    print(f"wrote {DOCS / 'PERFORMANCE.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
