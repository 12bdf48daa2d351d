"""Thin launcher: `python app.py [--engine NAME] [--db URL] [--host H] [--port P] [--share --auth U:P]`."""

from studio.ui.serve import main

if __name__ == "__main__":
    main()
