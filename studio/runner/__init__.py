"""The runner: the loop (plan → sketch → inspect → refine) and every human action on it."""

from .runner import Event, PausePolicy, Runner

__all__ = ["Event", "PausePolicy", "Runner"]
