"""The studio's side of the BAGEL worker: start it, send requests, relay progress, cancel, survive its death.

The worker (worker.py) runs under the python the user names; this side never imports torch. Each
request waits for its answer while relaying the worker's progress messages (with decoded previews)
to the stage's listener. When the person presses Stop, a `cancel` message goes to the worker, which
stops between two model steps; if it has not answered after the grace period (stuck in a long
kernel, or loading) the process is killed — except while the worker has announced an
uninterruptible autoencoder call (`hold_s` on a progress message): Stop then waits that long too,
since killing mid-decode would cost a reload of the whole model. If the worker dies — a crash, the OOM killer, a CUDA
device-side assert — the request fails with one clear line (and the last line the worker wrote to
its log), nothing of the stage is kept, and the next request starts a fresh worker.
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ...core.domain import StudioError
from ..base import Cancelled, Progress, StageContext
from . import wire

ROOT = Path(__file__).resolve().parents[3]  # the folder holding the `studio` package
HELLO_TIMEOUT = (
    120.0  # seconds for the worker's python to start and answer (imports only the stdlib)
)


class WorkerDied(StudioError):
    """The worker process ended during a request; the stage is lost, the session is not."""


class WorkerClient:
    def __init__(
        self,
        python: str,
        *,
        extra_path: tuple[str, ...] = (),
        cancel_grace: float = 10.0,
        lower_memory: str = "",
        env: dict[str, str] | None = None,
    ):
        self.python, self.extra_path, self.cancel_grace = (
            python,
            tuple(extra_path),
            float(cancel_grace),
        )
        self.extra_env = dict(env or {})
        self.lower_memory = lower_memory
        self.process: subprocess.Popen | None = None
        self.inbox: queue.Queue = queue.Queue()
        self.ids = itertools.count(1)
        self.log_path: str | None = None
        self.path_dir: Path | None = None
        self.info: dict[str, Any] = {}
        self.started_s = 0.0

    # -- life ----------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> dict[str, Any]:
        """Start the worker and read its hello; the model is loaded by the `load` request."""
        if not Path(self.python).expanduser().exists():
            raise StudioError(
                f"STROKE_STUDIO_BAGEL_PYTHON is {self.python}, which does not exist. Build BAGEL's "
                "environment with `bash scripts/bagel_env.sh <clone> <env>` and set it to <env>/bin/python."
            )
        # The worker sees the `studio` package alone (a folder holding a link to it), never the folder the
        # package lives in: installed, that folder is the studio's site-packages, whose transformers 5 and
        # friends must not shadow BAGEL's environment.
        path_dir = self.path_dir = Path(tempfile.mkdtemp(prefix="bagel-worker-path-"))
        (path_dir / "studio").symlink_to(ROOT / "studio", target_is_directory=True)
        env = {**os.environ, **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(path_dir), *self.extra_path]
            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        env["PYTHONUNBUFFERED"] = "1"
        log = tempfile.NamedTemporaryFile(prefix="bagel-worker-", suffix=".log", delete=False)
        self.log_path = log.name
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(Path(self.python).expanduser()), "-m", "studio.engines.bagel.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=str(path_dir),
            # Ctrl-C in the studio's terminal is the studio's to handle; the worker
            # ends when told to, or when its stdin closes with the studio.
            start_new_session=True,
        )
        log.close()
        self.inbox = queue.Queue()
        threading.Thread(target=self._read, args=(self.process, self.inbox), daemon=True).start()
        try:
            hello, _ = self.inbox.get(timeout=HELLO_TIMEOUT)
        except queue.Empty:
            self.forget()
            raise StudioError(
                f"The BAGEL worker ({self.python}) did not start within {HELLO_TIMEOUT:.0f} s."
            ) from None
        if hello is None or hello.get("type") != "hello":
            self.forget()
            raise StudioError(
                f"The BAGEL worker ({self.python}) failed to start: {self.last_log_line()}"
            )
        if hello.get("protocol") != wire.PROTOCOL_VERSION:
            self.forget()
            raise StudioError(
                f"The BAGEL worker speaks protocol {hello.get('protocol')}, this studio "
                f"{wire.PROTOCOL_VERSION}: run the worker from this checkout."
            )
        self.started_s = time.perf_counter() - started
        return hello

    @staticmethod
    def _read(process: subprocess.Popen, inbox: queue.Queue) -> None:
        try:
            while True:
                inbox.put(wire.read_message(process.stdout))
        except wire.ProtocolError as exc:
            inbox.put((None, str(exc)))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def close(self, timeout: float = 10.0) -> None:
        """Ask the worker to exit; end it if it does not within `timeout`."""
        if self.alive:
            try:
                wire.write_message(self.process.stdin, {"op": "shutdown", "id": next(self.ids)})
                self.process.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
        self.kill()
        # a worker that died keeps its log (the error names it); a closed one needs none
        if self.log_path:
            Path(self.log_path).unlink(missing_ok=True)
        self.forget()

    def forget(self) -> None:
        """Drop what a finished worker leaves behind, except its log."""
        self.kill()
        if self.path_dir:
            shutil.rmtree(self.path_dir, ignore_errors=True)
            self.path_dir = None

    def last_log_line(self) -> str:
        try:
            lines = [
                line.strip()
                for line in Path(self.log_path or "").read_text(errors="replace").splitlines()
            ]
        except OSError:
            return "no log"
        lines = [line for line in lines if line and not line.startswith(("File ", "^", "~"))]
        return lines[-1][:300] if lines else "nothing in its log"

    # -- requests ------------------------------------------------------------------------------
    def request(self, op: str, ctx: StageContext | None, doing: str, blobs=(), **fields: Any):
        """Send one request and wait for its answer: (header, blobs). Progress goes to ctx's listener."""
        if not self.alive:
            raise WorkerDied(f"The BAGEL worker is not running ({doing}).")
        request_id = next(self.ids)
        try:
            wire.write_message(self.process.stdin, {"op": op, "id": request_id, **fields}, blobs)
        except (OSError, ValueError):
            raise self._died(doing) from None
        cancel_sent: float | None = None
        hold_until = 0.0  # the worker announced a call it cannot interrupt, lasting until then
        while True:
            if ctx is not None and ctx.cancel.cancelled and cancel_sent is None:
                cancel_sent = time.monotonic()
                try:
                    wire.write_message(self.process.stdin, {"op": "cancel", "id": request_id})
                except (OSError, ValueError):
                    pass
            now = time.monotonic()
            if (
                cancel_sent is not None
                and now - cancel_sent > self.cancel_grace
                and now > hold_until
            ):
                self.kill()  # it did not stop in time: the next stage starts a fresh worker
                raise Cancelled()
            try:
                header, data = self.inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if header is None:
                raise self._died(doing)
            if header.get("id") != request_id:
                continue  # a late answer to an earlier, cancelled request
            kind = header.get("type")
            hold_until = time.monotonic() + float(header.get("hold_s") or 0.0)
            if kind == "progress":
                if ctx is not None and not ctx.cancel.cancelled:
                    preview = wire.png_image(data[0]) if header.get("preview") and data else None
                    ctx.report(
                        Progress(
                            ctx.stage,
                            min(1.0, max(0.0, float(header["fraction"]))),
                            header.get("message", ""),
                            preview,
                        )
                    )
                continue
            if kind == "result":
                return header, data
            if kind == "cancelled":
                raise Cancelled()
            raise self._error(header, doing)

    def _died(self, doing: str) -> WorkerDied:
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
                code = self.process.returncode
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else f"exited with code {code}"
        )
        return WorkerDied(
            f"The BAGEL worker {how} while {doing} ({self.log_path}: {self.last_log_line()}). The session is "
            "unchanged: the next stage starts a fresh worker and rebuilds the context from the stored steps."
        )

    def _error(self, header: dict[str, Any], doing: str) -> StudioError:
        kind, message = header.get("kind"), header.get("message", "")
        if kind == "input":
            return StudioError(message)
        if kind == "oom":
            return StudioError(
                f"The GPU ran out of memory while {doing}. {self.lower_memory} "
                "The session is unchanged: run the stage again after changing that."
            )
        if kind == "fatal":
            self.process.wait(timeout=30) if self.process else None
            return WorkerDied(
                f"BAGEL hit a device error while {doing} ({message}); its worker has ended. The session "
                "is unchanged: the next stage starts a fresh worker."
            )
        return StudioError(f"BAGEL failed while {doing}: {message}")
