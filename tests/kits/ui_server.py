"""Start the real studio page in-process on a free local port, for API and browser tests."""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@contextlib.contextmanager
def running_studio(data_dir, engine_name: str, accounts=None):
    """`accounts` (studio.core.accounts.Accounts): require a login, as `app.py --auth-file` does."""
    from studio.runner import Runner
    from studio.store import Store
    from studio.ui import build_ui, launch_options

    os.environ.setdefault("GRADIO_TEMP_DIR", str(data_dir / ".gradio"))
    store = Store(data_dir=data_dir)
    demo = build_ui(Runner(store), engine_name, accounts)
    demo.queue().launch(
        server_name="127.0.0.1",
        server_port=None,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        auth=accounts.check if accounts else None,
        **launch_options(demo),
    )
    try:
        yield demo.local_url, store
    finally:
        demo.close()
        store.close()
