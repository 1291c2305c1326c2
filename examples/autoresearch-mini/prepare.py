"""
Locked part of the autoresearch-mini target, shaped like karpathy/autoresearch's
prepare.py: the constants train.py imports (TIME_BUDGET among them), the data
and the evaluation. No patch may change this file; arswarm rewrites
TIME_BUDGET per stage, and the coordinator hashes the result.

Standard library only. Training time is simulated: a step of DT seconds sleeps
DT * ARSWARM_TIME_SCALE real seconds (1 = real time; tests use 0.001).
"""

import math
import os
import random

# ---------------------------------------------------------------------------
# Constants (fixed, do not modify)
# ---------------------------------------------------------------------------

MAX_SEQ_LEN = 256  # context length
TIME_BUDGET = 300  # training time budget in seconds
EVAL_TOKENS = 20 * 524288  # tokens in the validation set
VOCAB_SIZE = 8192

# How fast simulated seconds pass; not a research knob.
TIME_SCALE = float(os.environ.get("ARSWARM_TIME_SCALE") or 1)


def evaluate_bpb(depth, matrix_lr, warmdown_ratio, train_seconds, seed):
    """
    Bits per byte on the validation set of the simulated model: better with
    depth and with training time, a bowl in log(matrix_lr) around 0.04 and in
    warmdown_ratio around 0.5, plus seed noise of about 0.002 (the reference
    setup's seed-to-seed spread).
    """
    rng = random.Random(seed * 7919 + depth)
    capacity = 0.06 * math.log2(max(depth, 1))
    training = 0.05 * math.log(max(train_seconds, 1) / 300 + 1)
    lr_cost = 0.03 * math.log(matrix_lr / 0.04) ** 2
    warmdown_cost = 0.02 * (warmdown_ratio - 0.5) ** 2
    return 1.2 - capacity - training + lr_cost + warmdown_cost + rng.gauss(0, 0.002)
