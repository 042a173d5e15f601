"""The learning-rate schedule of the packed trainers: warm-up by steps, then a cosine over wall-clock time.

On a lent GPU shared by several runs the step rate is not known in advance, so the cosine decay to lr/20 runs over
the command's ``--time-limit-min`` rather than its ``--steps``."""

import math
import sys
import time

_t0 = [None]
_limit = float(sys.argv[sys.argv.index("--time-limit-min") + 1]) * 60


def lr_by_time(step, lr, warmup, steps):
    """The learning rate at ``step`` (``steps`` is ignored: the decay follows the clock)."""
    if _t0[0] is None:
        _t0[0] = time.time()
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = min(1.0, (time.time() - _t0[0]) / _limit)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
