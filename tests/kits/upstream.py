"""Upstream sources and data the tests read but the repository does not carry, and how to get them.

CI and the team's machines keep them in `../shared/` beside the checkout, so the tests that need them
run there. A fresh clone has no `../shared`: those tests skip with one line naming the repository, the
pinned commit and the environment variable that points the tests at a copy. (Fetching them from
`scripts/setup.sh --dev` was not chosen: the machines this project is built on reach only package
registries, and a test run must not depend on the network.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Upstream:
    what: str  # what it is, as the skip line names it
    env: str  # the variable that points the tests at a copy elsewhere
    default: Path  # where CI and the team's machines keep it
    marker: str  # a file inside it that proves it is there
    get: str  # how to get it: repository, commit, which files

    @property
    def path(self) -> Path:
        return Path(os.environ.get(self.env) or self.default)

    def present(self) -> bool:
        return (self.path / self.marker).is_file()

    @property
    def missing(self) -> str:
        """The one skip line: where it was looked for, how to get it, how to point the tests at it."""
        return f"{self.what} is not at {self.path}: {self.get}, then set {self.env}=<that folder>"

    def require(self) -> Path:
        """The folder, or skip the calling test (or fixture) with the how-to line."""
        __tracebackhide__ = True  # the skip names the test's line, not this one
        if not self.present():
            pytest.skip(self.missing)
        return self.path


BAGEL = Upstream(
    "BAGEL's code",
    "STROKE_STUDIO_TEST_BAGEL_REPO",
    SHARED / "third_party" / "Bagel",
    "inferencer.py",
    "git clone https://github.com/ByteDance-Seed/Bagel and check out commit 056b5fd",
)
GENEVAL = Upstream(
    "GenEval's prompt data",
    "STROKE_STUDIO_TEST_GENEVAL",
    SHARED / "data" / "geneval",
    "evaluation_metadata.jsonl",
    "copy prompts/evaluation_metadata.jsonl and prompts/object_names.txt of "
    "https://github.com/djghosh13/geneval (commit af4902f) into one folder",
)
IRG = Upstream(
    "IRG's SFT code (a BAGEL fork)",
    "STROKE_STUDIO_TEST_IRG_REPO",
    SHARED / "third_party" / "IRG",
    "data/interleave_datasets/multi_think_interleave_t2i_dataset.py",
    "git clone https://github.com/Osilly/Interleaving-Reasoning-Generation, check out commit "
    "3eee315 and take its SFT/ folder",
)
ZEBRA_COT = Upstream(
    "Zebra-CoT's code (a BAGEL fork)",
    "STROKE_STUDIO_TEST_ZEBRA_COT_REPO",
    SHARED / "third_party" / "Zebra-CoT",
    "data/interleave_datasets/think_trace_dataset.py",
    "git clone https://github.com/multimodal-reasoning-lab/Bagel-Zebra-CoT and check out commit bbf53c3",
)
DIFFUSION_DPO = Upstream(
    "diffusers' Diffusion-DPO training script",
    "STROKE_STUDIO_TEST_DIFFUSION_DPO",
    SHARED / "third_party" / "diffusers_dpo",
    "train_diffusion_dpo.py",
    "copy examples/research_projects/diffusion_dpo/train_diffusion_dpo.py of "
    "https://github.com/huggingface/diffusers (commit 58eb52c) into a folder",
)
ALL = (BAGEL, GENEVAL, IRG, ZEBRA_COT, DIFFUSION_DPO)
