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


def timeline_png(timelines: dict[str, dict], classes: list[str], path: str | Path) -> None:
    """True and predicted action per frame, one pair of strips per video."""
    names = list(timelines)
    cmap = plt.get_cmap("tab20", len(classes))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 0.9 * len(names) + 0.8),
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        truth = np.asarray(timelines[name]["labels"], float)
        truth[truth < 0] = np.nan
        strips = np.stack([truth, np.asarray(timelines[name]["predictions"], float)])
        ax.imshow(strips, aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5,
                  interpolation="nearest")
        ax.set_yticks([0, 1], ["true", "pred"])
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
        parts += ["## Action timeline of untrimmed videos", "",
                  f"Frame-level accuracy over {timeline['frames']} labelled frames of "
                  f"{timeline['videos']} videos: **{timeline['frame_accuracy']:.4f}** "
                  f"(sliding windows of {timeline['window_s']} s every {timeline['stride_s']} s,"
                  " each frame takes the mean probabilities of the windows covering it).", "",
                  "![timelines](timelines.png)", ""]
    return "\n".join(parts)
