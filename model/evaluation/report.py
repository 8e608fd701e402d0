"""Human-readable evaluation reports: Markdown tables and PNG plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_png(confusion: list[list[int]], classes: list[str], path: str | Path,
                  title: str) -> None:
    """Row-normalised confusion matrix with counts in the cells."""
    counts = np.asarray(confusion)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(6.0, 0.55 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def timeline_png(timelines: dict[str, dict], classes: list[str], path: str | Path,
                 strips: tuple[str, ...] = ("predictions",)) -> None:
    """True and predicted action per frame, per video a strip of its ``labels`` and one of
    each predicted timeline named in ``strips``."""
    names = list(timelines)
    cmap = plt.get_cmap("tab20", len(classes))
    fig, axes = plt.subplots(len(names), 1,
                             figsize=(10, (0.45 * (len(strips) + 1)) * len(names) + 0.8),
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        truth = np.asarray(timelines[name]["labels"], float)
        truth[truth < 0] = np.nan
        rows = np.stack([truth] + [np.asarray(timelines[name][s], float) for s in strips])
        ax.imshow(rows, aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5,
                  interpolation="nearest")
        ax.set_yticks(range(len(rows)), ["true"] + ["pred" if s == "predictions" else s
                                                    for s in strips])
        ax.set_title(name, fontsize=8, loc="left")
        ax.set_xticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(classes))]
    fig.legend(handles, classes, loc="lower center", ncol=min(6, len(classes)), fontsize=7)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def per_class_table(per_class: dict[str, dict]) -> str:
    lines = ["| class | precision | recall | F1 | clips |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
              f"{m['support']} |" for name, m in per_class.items()]
    return "\n".join(lines)


def headline_table(metrics: dict) -> str:
    rows = [("top-1 accuracy", "top1"), ("top-5 accuracy", "top5"),
            ("macro precision", "macro_precision"), ("macro recall", "macro_recall"),
            ("macro F1", "macro_f1"), ("mean class accuracy", "mean_class_accuracy")]
    lines = ["| metric | value |", "| --- | ---: |"]
    lines += [f"| {label} | {metrics[key]:.4f} |" for label, key in rows]
    lines.append(f"| test clips | {metrics['num_clips']} |")
    return "\n".join(lines)


def _ingest_lines(ingest: dict) -> list[str]:
    """Which clips of an imported file were scored, and which were rejected (not scored)."""
    lines = [f"- scored: {ingest['scored']}"]
    lines += [f"- note: {note}" for note in ingest.get("notes", [])]
    rejected = ingest.get("rejected", [])
    if rejected:
        lines += ["", f"## Rejected clips ({len(rejected)}): not in the figures below", ""]
        for r in rejected:
            lines.append(f"- `{r['file']}`")
            lines += [f"  - {issue}" for issue in r["issues"]]
    return lines


def evaluation_markdown(result: dict) -> str:
    m = result["clips"]
    ingest = _ingest_lines(result["ingest"]) if "ingest" in result else []
    sampling = (f"{result['num_clips_per_window']} clip(s) of {result['clip_len']} frames each"
                if result["clip_len"] else "every frame of the window")
    parts = [f"# Evaluation: {result['package']}", "", *ingest, *([""] if ingest else []),
             f"- data: `{result['data']}` (split `{result['split']}`)",
             f"- test set check: {result['test_set_check']}",
             f"- test clips: windows of at most {result['window_s']} s inside labelled "
             f"segments, {sampling}", "", "## Clip classification", "", headline_table(m), "",
             "## Per class", "", per_class_table(m["per_class"]), "",
             "![confusion matrix](confusion_matrix.png)", ""]
    timeline = result.get("timeline")
    if timeline:
        parts += ["## Action timelines of untrimmed videos", "", *timeline_lines(timeline), "",
                  "![timelines](timelines.png)", ""]
    return "\n".join(parts)


def _delays(m: dict) -> str:
    if "median_delay_frames" not in m:
        return "– | –"
    return " | ".join("missed" if m[k] is None else f"{m[k]:.2f} s"
                      for k in ("median_delay_s", "p90_delay_s"))


def segmentation_table(rows: list[tuple[str, dict]]) -> list[str]:
    """Markdown table of named segmentation metrics (``model.evaluation.segmentation``), with
    the detection delays of the rows that have them."""
    lines = ["| timeline | frame acc. | edit | F1@10 | F1@25 | F1@50 | median delay | "
             "p90 delay |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {m['frame_accuracy']:.4f} | {m['edit']:.1f} | {m['f1_10']:.1f} | "
              f"{m['f1_25']:.1f} | {m['f1_50']:.1f} | {_delays(m)} |" for name, m in rows]
    return lines


def timeline_lines(timeline: dict) -> list[str]:
    """The segmentation metrics of a timeline evaluation (``model.evaluation.timeline``)."""
    if timeline["method"] == "timeline head":
        rows = {"offline (whole video)": timeline["offline"],
                "online (causal)": timeline["online"]}
        how = (f"The package's timeline head (`{timeline['head']}`): recognizer windows of "
               f"{timeline['windows_s']} s every {timeline['step_s']} s, MS-TCN, then Viterbi "
               "decoding (offline) or a causal forward filter (online).")
    else:
        rows = {"summed windows": timeline}
        how = (f"Sliding windows of {timeline['window_s']} s every {timeline['stride_s']} s; "
               "each frame takes the class of the summed probabilities of the windows covering"
               " it (the package has no timeline head).")
    first = next(iter(rows.values()))
    lines = [f"{first['videos']} videos, {first['frames']} frames. {how} Edit and F1@k "
             "(MS-TCN protocol) leave the background class out of the segments.", "",
             *segmentation_table(list(rows.items()))]
    if "median_delay_frames" in timeline.get("online", {}):
        online = timeline["online"]
        lines += ["", f"Online detection delay: frames from a true action's start to the first "
                  f"frame the online timeline names it, over {online['segments']} actions "
                  f"({online['missed']} never named)."]
    return lines
