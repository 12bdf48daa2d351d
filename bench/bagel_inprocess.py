"""Replays recorded bagel-engine requests in one process, in BAGEL's environment (see bagel_session.py).

    <bagel-env>/bin/python bench/bagel_inprocess.py requests.json      (PYTHONPATH: the checkout)

The requests go through the worker's own handler (studio/engines/bagel/worker.py: Worker.handle),
with replies written to a null sink: the same model work as through the worker process, without the
pipes, the second process and the studio side. Each replayed session starts from an empty context cache.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from pathlib import Path


class _Null(io.RawIOBase):
    def writable(self):
        return True

    def write(self, b):
        return len(b)


def main(path: str) -> None:
    from studio.engines.bagel import loader
    from studio.engines.bagel.contexts import ContextCache
    from studio.engines.bagel.worker import Worker

    data = json.loads(Path(path).read_text())
    t = time.perf_counter()
    inf, info = loader.load(Path(data["snapshot"]), Path(data["repo"]), "bf16", None, 2**30)
    load_s = time.perf_counter() - t
    stages: dict[str, list[float]] = {}
    per_session = len(data["records"]) // data["sessions"]
    for start in range(0, len(data["records"]), per_session):
        worker = Worker(io.BufferedWriter(_Null()), None)
        worker.inf, worker.info, worker.cache = inf, info, ContextCache(2**30)
        for record in data["records"][start : start + per_session]:
            t = time.perf_counter()
            for request in record["requests"]:
                blobs = [base64.b64decode(b) for b in request.pop("blobs")]
                assert worker.handle(request, blobs)
            stages.setdefault(record["stage"], []).append(time.perf_counter() - t)
    print(json.dumps({"load_s": round(load_s, 3), "stages": stages}))


if __name__ == "__main__":
    main(sys.argv[1])
