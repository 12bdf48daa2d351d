"""Batches: every (prompt, sample) of a prompt file as a session, run by any number of workers.

`worker` plans a batch and runs one worker; `workqueue` is the batch's work table in the store;
`placement` is where a worker runs (its rank and GPU); `local` starts N workers on this machine.
"""

from .worker import (
    MAX_SAMPLES,
    MODES,
    BatchOptions,
    Worker,
    plan,
    plan_items,
    read_prompts,
    sample_seed,
    status,
)

__all__ = [
    "MAX_SAMPLES",
    "MODES",
    "BatchOptions",
    "Worker",
    "plan",
    "plan_items",
    "read_prompts",
    "sample_seed",
    "status",
]
