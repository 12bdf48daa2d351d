"""The report: a markdown table per mode, the modes side by side, and a PNG bar chart (Pillow).

Accuracy per tag is the share of that tag's images the checker judged correct; *overall* is
GenEval's overall score, the mean of the per-tag accuracies (its summary_scores.py), with the
share over all images beside it. Cost columns are per image: sampling steps summed over every
stage of the session (what the engine reported), rounds (plans + refines on the final branch), and
the session's own time: its stages' wall times summed (with several workers, sessions overlap; a
session carried on after an interruption counts only the stages it kept).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checker import NOT_COMPARABLE
from .metadata import TAGS

MODE_COLORS = {"single": (120, 144, 170), "process": (232, 126, 38)}
EXTRA_COLORS = ((90, 160, 90), (150, 90, 170), (200, 80, 80))


@dataclass
class Row:
    label: str
    images: int
    correct: int | None
    accuracy: float | None
    steps: float
    rounds: float
    wall_s: float
    truth: float | None = (
        None  # accuracy by the offline painter's record, when it was scored beside
    )


@dataclass
class ModeTable:
    mode: str
    rows: list[Row]  # one per tag, in GenEval's order
    overall: Row  # accuracy: GenEval's mean over tags
    image_accuracy: float | None  # correct / images, all tags together


@dataclass
class Report:
    markdown: str
    tables: list[ModeTable]
    checker: dict[str, str]
    paths: dict[str, Path] = field(default_factory=dict)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _row(label: str, records: list[dict[str, Any]]) -> Row:
    scored = [r["correct"] for r in records if r.get("correct") is not None]
    correct = sum(bool(c) for c in scored) if scored else None
    return Row(
        label,
        len(records),
        correct,
        correct / len(scored) if scored else None,
        _mean([r.get("sampling_steps", 0) for r in records if "sampling_steps" in r]),
        _mean([r.get("rounds", 0) for r in records if "rounds" in r]),
        _mean([r.get("wall_s", 0.0) for r in records if "wall_s" in r]),
        _share([r["truth_correct"] for r in records if r.get("truth_correct") is not None]),
    )


def _share(verdicts: list[bool]) -> float | None:
    return sum(bool(v) for v in verdicts) / len(verdicts) if verdicts else None


def tables_for(records: list[dict[str, Any]], modes: list[str]) -> list[ModeTable]:
    tables = []
    for mode in modes:
        mine = [r for r in records if r["mode"] == mode]
        tags = [t for t in TAGS if any(r["tag"] == t for r in mine)]
        tags += sorted({r["tag"] for r in mine} - set(tags))
        rows = [_row(tag, [r for r in mine if r["tag"] == tag]) for tag in tags]
        overall = _row("overall", mine)
        per_tag = [row.accuracy for row in rows if row.accuracy is not None]
        image_accuracy = overall.accuracy
        overall.accuracy = _mean(per_tag) if per_tag else None
        truth_per_tag = [row.truth for row in rows if row.truth is not None]
        overall.truth = _mean(truth_per_tag) if truth_per_tag else None
        tables.append(ModeTable(mode, rows, overall, image_accuracy))
    return tables


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(
    tables: list[ModeTable], checker: dict[str, str], header: list[str], footer: list[str]
) -> str:
    lines = ["# GenEval-format benchmark", "", *header, ""]
    for table in tables:
        truth = table.overall.truth is not None
        lines += [
            f"## Mode `{table.mode}` (checker: {checker['name']})",
            "",
            "| tag | images | correct | accuracy |"
            + (" painter's record |" if truth else "")
            + " sampling steps / image | rounds / image | wall s / image |",
            "|---|---:|---:|---:|" + ("---:|" if truth else "") + "---:|---:|---:|",
        ]
        for row in table.rows + [table.overall]:
            name = f"**{row.label}**" if row is table.overall else row.label
            acc = _fmt(row.accuracy)
            lines.append(
                f"| {name} | {row.images} | {'–' if row.correct is None else row.correct} | "
                f"{f'**{acc}**' if row is table.overall else acc} | "
                + (f"{_fmt(row.truth)} | " if truth else "")
                + f"{row.steps:.1f} | {row.rounds:.2f} | {row.wall_s:.3f} |"
            )
        lines += [
            "",
            f"Overall is GenEval's score (the mean of the per-tag accuracies); over all images together: "
            f"{_fmt(table.image_accuracy)}.",
            "",
        ]
    if len(tables) > 1:
        names = [t.mode for t in tables]
        lines += [
            f"## Modes compared (accuracy; checker: {checker['name']})",
            "",
            "| tag | "
            + " | ".join(names)
            + (f" | {names[-1]} − {names[0]} |" if len(names) == 2 else " |"),
            "|---|" + "---:|" * (len(names) + (len(names) == 2)),
        ]
        labels = list(dict.fromkeys(row.label for t in tables for row in t.rows)) + ["overall"]
        for label in labels:
            values = []
            for t in tables:
                row = (
                    t.overall
                    if label == "overall"
                    else next((r for r in t.rows if r.label == label), None)
                )
                values.append(row.accuracy if row else None)
            cells = [_fmt(v) for v in values]  # the checker's accuracies
            if len(values) == 2:
                cells.append("–" if None in values else f"{values[1] - values[0]:+.3f}")
            lines.append(
                f"| {'**overall**' if label == 'overall' else label} | " + " | ".join(cells) + " |"
            )
        lines.append("")
        costs = ["| per image | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for what, attr, digits in (
            ("sampling steps", "steps", 1),
            ("rounds", "rounds", 2),
            ("wall s", "wall_s", 3),
        ):
            costs.append(
                f"| {what} | "
                + " | ".join(f"{getattr(t.overall, attr):.{digits}f}" for t in tables)
                + " |"
            )
        lines += costs + [""]
    lines += footer
    return "\n".join(lines).rstrip() + "\n"


# -- the chart ---------------------------------------------------------------------------------------


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def chart(tables: list[ModeTable], title: str, subtitle: str, path: Path) -> Path:
    """Grouped bars: accuracy per tag (and overall) for each mode, drawn with Pillow."""
    from PIL import Image, ImageDraw

    labels = list(dict.fromkeys(row.label for t in tables for row in t.rows)) + ["overall"]
    big, small = _font(16), _font(12)
    left, right, top, bottom = 60, 20, 78, 70
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max(measure.textlength(title, font=big), measure.textlength(subtitle, font=small))
    width, height = int(max(640, 120 * len(labels) + 120, left + text_w + right)), 460
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    pen.text((left, 10), title, fill=(20, 20, 20), font=big)
    pen.text((left, 32), subtitle, fill=(110, 60, 60), font=small)
    plot_h = height - top - bottom
    for k in range(5):  # gridlines at 0, .25, .5, .75, 1
        y = top + plot_h - plot_h * k / 4
        pen.line((left, y, width - right, y), fill=(225, 225, 225))
        pen.text((left - 8, y), f"{k / 4:.2f}", fill=(90, 90, 90), font=small, anchor="rm")
    group_w = (width - left - right) / len(labels)
    bar_w = min(36.0, group_w * 0.8 / max(1, len(tables)))
    colors = {
        t.mode: MODE_COLORS.get(t.mode, EXTRA_COLORS[i % len(EXTRA_COLORS)])
        for i, t in enumerate(tables)
    }
    for g, label in enumerate(labels):
        x_mid = left + group_w * (g + 0.5)
        x = x_mid - bar_w * len(tables) / 2
        for t in tables:
            row = (
                t.overall
                if label == "overall"
                else next((r for r in t.rows if r.label == label), None)
            )
            value = row.accuracy if row else None
            if value is not None:
                y = top + plot_h * (1 - value)
                pen.rectangle((x, y, x + bar_w - 2, top + plot_h), fill=colors[t.mode])
                pen.text(
                    (x + bar_w / 2 - 1, y - 2),
                    f"{value:.2f}",
                    fill=(40, 40, 40),
                    font=small,
                    anchor="mb",
                )
            x += bar_w
        pen.text(
            (x_mid, top + plot_h + 8),
            label,
            fill=(30, 30, 30),
            font=small if label != "overall" else big,
            anchor="ma",
        )
    pen.line((left, top + plot_h, width - right, top + plot_h), fill=(60, 60, 60))
    lx = left
    for t in tables:  # legend
        pen.rectangle((lx, height - 26, lx + 14, height - 12), fill=colors[t.mode])
        pen.text((lx + 20, height - 19), t.mode, fill=(30, 30, 30), font=small, anchor="lm")
        lx += 40 + int(pen.textlength(t.mode, font=small))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


# -- the whole report ----------------------------------------------------------------------------------


OFFLINE_ABOUT = (
    "The offline engine is a faithful simulator of the loop for people without a GPU, not an image "
    "model: its single-pass mistakes are draft noise injected on purpose (per new group: a wrong "
    "relation 30 %, a wrong colour 20 %, a wrong count 6 % + 8 % per extra object; engine params "
    '`{"draft_noise": 0}` draws every draft as planned), so the gap between the modes shows the loop '
    "catching those mistakes, not a model's. Its numbers are never comparable with a paper's."
)


def offline_notes(options) -> list[str]:
    """What the report must say of the offline engine's numbers (nothing for another engine)."""
    if options.engine != "offline":
        return []
    params = options.engine_params or {}
    noise = params.get("draft_noise", 1.0)
    where = (
        "no draft noise in this run (draft_noise 0): single-pass draws every draft as planned"
        if noise == 0 and not any(k.startswith("noise_") and params[k] for k in params)
        else f"draft noise in this run: draft_noise {noise}"
    )
    return [f"- {OFFLINE_ABOUT} ({where}.)"]


def build_report(result, options, prompts_path: Path) -> Report:
    """report.md, report.png and report.json in the output folder, from a finished run's records."""
    modes = [m.value for m in options.modes]
    tables = tables_for(result.records, modes)
    checker = result.checker
    per_prompt = len({(r["index"]) for r in result.records})
    header = [
        f"- engine: `{options.engine}`; modes: {', '.join(modes)}; {options.samples} sample(s) per prompt; "
        f"seed {options.seed}; at most {options.rounds} rounds"
        + (
            f"; engine params `{json.dumps(options.engine_params)}`"
            if options.engine_params
            else ""
        ),
        f"- prompts: `{prompts_path}`"
        + (f", tags {', '.join(options.tags)}" if options.tags else "")
        + (f", first {options.limit}" if options.limit else "")
        + f" ({per_prompt} prompts scored)",
        f"- checker: **{checker['name']}**. {checker['about']}",
        *offline_notes(options),
        f"- {NOT_COMPARABLE} For official numbers, score the images with GenEval's evaluator: "
        f"`python evaluation/evaluate_images.py {result.out}/<mode> --outfile <mode>.jsonl --model-path <mask2former "
        f"folder>`, then `python evaluation/summary_scores.py <mode>.jsonl`.",
        f"- images: `{result.out}/<mode>/<NNNNN>/samples/<NNNN>.png` (GenEval's layout); every trajectory is a "
        f'session tagged `bench`, `geneval` and `batch:{result.batch}` in `{result.db_url}` (search "GenEval" in '
        f"the studio's Sessions tab; `studio batch status {result.batch}` while it runs).",
    ]
    footer = []
    missing = result.total - len(result.records)
    if result.errors:
        footer.append(
            f"**{len(result.errors)} sample(s) failed** and are not in the tables; run the same command "
            f"with --retry-failed to run them again. First error: {result.errors[0].get('error')}"
        )
    elif missing > 0:
        footer.append(
            f"{missing} sample(s) are not finished yet; run the same command again to finish them."
        )
    text = markdown(tables, checker, header, footer)
    out = result.out
    paths = {
        "markdown": out / "report.md",
        "chart": out / "report.png",
        "json": out / "report.json",
    }
    paths["markdown"].write_text(text, encoding="utf-8")
    chart(
        tables,
        f"GenEval-format accuracy by tag: engine {options.engine}, checker {checker['name']}",
        "Not comparable with published GenEval scores (a different detector and colour classifier).",
        paths["chart"],
    )
    data = {
        "engine": options.engine,
        "checker": checker,
        "prompts": str(prompts_path),
        "samples": options.samples,
        "seed": options.seed,
        "rounds": options.rounds,
        "not_comparable": NOT_COMPARABLE,
        "modes": {
            t.mode: {
                "overall": t.overall.accuracy,
                "overall_painters_record": t.overall.truth,
                "image_accuracy": t.image_accuracy,
                "images": t.overall.images,
                "sampling_steps": t.overall.steps,
                "rounds": t.overall.rounds,
                "wall_s": t.overall.wall_s,
                "tags": {
                    r.label: {
                        "images": r.images,
                        "correct": r.correct,
                        "accuracy": r.accuracy,
                        "painters_record": r.truth,
                        "sampling_steps": r.steps,
                        "rounds": r.rounds,
                        "wall_s": r.wall_s,
                    }
                    for r in t.rows
                },
            }
            for t in tables
        },
        "errors": len(result.errors),
    }
    paths["json"].write_text(json.dumps(data, indent=1), encoding="utf-8")
    return Report(text, tables, checker, paths)
