"""Thin launcher: `python app.py ARGS` is `studio ARGS` (the studio UI will open from here)."""

from studio.cli import main

if __name__ == "__main__":
    main()
