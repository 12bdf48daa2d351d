"""Stands in for Weights & Biases, the experiment logger BAGEL's trainer imports and calls on rank 0
(init, config.update, log, finish, Settings): it records nothing and never reaches the network. The
registry's wandb is ~20 MB of dependencies a CPU test of the trainer has no use for."""


class _Config(dict):
    def update(self, *args, **kwargs):  # takes the trainer's dataclasses as well as mappings
        return None


config = _Config()


class Settings:
    def __init__(self, *args, **kwargs):
        pass


def init(*args, **kwargs):
    return None


def log(*args, **kwargs):
    return None


def finish(*args, **kwargs):
    return None
