"""Training the next model on what people steered: an export in, a snapshot an engine loads out.

  bagel.py   `studio train bagel`: BAGEL's own trainer (train/pretrain_unified_navit.py, its files as they
             are) in BAGEL's environment on a train-ready export (studio/export/training.py), then the
             new snapshot in the layout `--engine bagel` loads
  entry.py   the trainer's entry point inside BAGEL's environment (standard library only)

Nothing here is imported by the light commands; this package imports nothing at import time (the
entry point runs in BAGEL's environment, without the studio's dependencies).
"""
