"""Does the offline loop claim no more than it shows? Floods and plan checks that pass over a missing object.

    .venv/bin/python bench/offline_honesty.py [--sets k,l,m,n] [--noise 1.0] [--rounds 6]

Each long description of the reader's hand-labelled whole-graph sets (bench/data/parse_graph_*.jsonl:
the groups a person wrote down for each prompt, never the reader's output) runs through the real
runner and store on the offline engine, process mode. On the final branch, against the painter's
record of the final canvas (what was drawn and not erased; the inspector never reads it):

- **missing, passed**: the last plan check on a complete plan passed while a group the labels ask for
  is neither in the final plan nor on the canvas, and the check does not name it (target 0);
- **floods**: a labelled counted group whose class the final canvas holds more than its count + 1
  times, the counts of the labelled groups of one class summed (five donuts, three pink and two
  white, are five; target 0 on every counting prompt);
- how often a labelled group is missing from the final canvas at all (the reader's or the loop's
  miss), and stages per session.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.domain import RunSettings, Stage  # noqa: E402
from studio.engines.offline.plan import planned  # noqa: E402
from studio.geneval.checker import canvas_record  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402


def rows(names: list[str]) -> list[tuple[str, dict]]:
    found = []
    for name in names:
        path = ROOT / f"bench/data/parse_graph_{name}.jsonl"
        for line in path.read_text().splitlines():
            if line.strip():
                found.append((name, json.loads(line)))
    return found


def canvas(branch) -> collections.Counter:
    return collections.Counter(o["class"] for o in canvas_record(branch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="k,l,m,n")
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--show", type=int, default=5, help="examples of each finding to print")
    args = parser.parse_args()
    store = Store(data_dir=Path(tempfile.mkdtemp(prefix="honesty-")))
    runner = Runner(store)
    tally = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    started = time.perf_counter()
    for index, (name, row) in enumerate(rows(args.sets.split(","))):
        settings = RunSettings(max_rounds=args.rounds, engine_params={"draft_noise": args.noise})
        trajectory = runner.new_session(
            row["prompt"], engine="offline", seed=index, settings=settings
        )
        try:
            runner.run(trajectory)
        except Exception as error:  # noqa: BLE001 - a crash is a finding too
            tally["crashed"] += 1
            examples["crashed"].append(
                f"{name}: {type(error).__name__}: {error} | {row['prompt'][:90]}"
            )
            continue
        branch = trajectory.branch()
        tally["sessions"] += 1
        tally["stages"] += len(branch)
        drawn = canvas(branch)
        described, _, plan = planned(branch)
        in_plan = {g.cls for g in described.groups}
        verdict = next((s for s in reversed(branch) if s.stage is Stage.INSPECT), None)
        check = verdict.plan_check if verdict is not None else None
        for group in row["groups"]:
            tally["groups"] += 1
            cls, count = group["cls"], group["count"]
            if drawn[cls] == 0:
                tally["groups missing from the canvas"] += 1
                unnamed = check is None or cls not in (check.critique or "")
                if (
                    plan is not None
                    and plan.complete
                    and check is not None
                    and check.passed
                    and cls not in in_plan
                    and unnamed
                ):
                    tally["plan check passed, a labelled group missing"] += 1
                    examples["missing, passed"].append(
                        f"{name}: {cls} | {check.critique[:120]} | {row['prompt'][:80]}"
                    )
            if count > 1:
                tally["counted groups"] += 1
                # groups of one class ("the first three are pink, the last two white") share the canvas
                asked = sum(g["count"] for g in row["groups"] if g["cls"] == cls)
                if drawn[cls] > asked + 1:
                    tally["floods (canvas > count + 1)"] += 1
                    examples["floods"].append(
                        f"{name}: {cls} {asked} -> {drawn[cls]} | {row['prompt'][:80]}"
                    )
    tally["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(dict(tally), indent=1))
    for kind, lines in examples.items():
        print(f"\n{kind} ({len(lines)}):")
        for line in lines[: args.show]:
            print("  ", line)
    store.close()


if __name__ == "__main__":
    main()
