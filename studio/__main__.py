"""`python -m studio …` is the `studio` command: what launchers such as `accelerate launch -m studio batch …`
and `torchrun -m studio …` start in each worker process."""

from .cli import main

main()
