"""
autoresearch-mini: the one file the agent edits, shaped like
karpathy/autoresearch's train.py. It reads no environment variable for its
parameters: DEPTH is a module-level constant here and TIME_BUDGET one of the
locked prepare.py, both rewritten per stage by arswarm. The training loop
counts time only after step 10, stops at TIME_BUDGET, prints one progress line
rewritten with \\r and ends with autoresearch's report block.
"""

import os
import random
import time

from prepare import MAX_SEQ_LEN, TIME_BUDGET, TIME_SCALE, VOCAB_SIZE, evaluate_bpb

# ---------------------------------------------------------------------------
# Hyperparameters (edit these directly, no CLI flags needed)
# ---------------------------------------------------------------------------

DEPTH = 4               # number of transformer layers
MATRIX_LR = 0.04        # learning rate for matrix parameters
WARMDOWN_RATIO = 0.5    # fraction of time budget for LR warmdown
STEP_SECONDS = 30.0     # simulated seconds per optimizer step
DEVICE_BATCH_SIZE = 128  # sequences per device step

# arswarm exports SEED per replicate; 42 when run by hand.
seed = int(os.environ.get("SEED") or 42)
random.seed(seed)

t_start = time.time()
num_params = DEPTH * 12 * (DEPTH * 64) ** 2 + VOCAB_SIZE * DEPTH * 64
print(f"Vocab size: {VOCAB_SIZE:,}")
print(f"Time budget: {TIME_BUDGET}s")

total_training_time = 0.0
step = 0
while True:
    dt = STEP_SECONDS
    time.sleep(dt * TIME_SCALE)
    step += 1
    if step > 10:
        total_training_time += dt
    progress = min(total_training_time / TIME_BUDGET, 1.0)
    loss = 9.0 - 5.5 * progress + random.gauss(0, 0.01)
    if loss != loss or loss > 100:
        print("FAIL")
        raise SystemExit(1)
    remaining = max(0.0, TIME_BUDGET - total_training_time)
    print(
        f"\rstep {step:05d} ({100 * progress:.1f}%) | loss: {loss:.6f} | lrm: {1 - WARMDOWN_RATIO * progress:.2f} "
        f"| dt: {dt * 1000:.0f}ms | tok/sec: {DEVICE_BATCH_SIZE * MAX_SEQ_LEN / dt:,.0f} | mfu: 0.0% "
        f"| epoch: 1 | remaining: {remaining:.0f}s    ",
        end="",
        flush=True,
    )
    if step > 10 and total_training_time >= TIME_BUDGET:
        break

print()
val_bpb = evaluate_bpb(DEPTH, MATRIX_LR, WARMDOWN_RATIO, total_training_time, seed)
t_end = time.time()
print("---")
print(f"val_bpb:          {val_bpb:.6f}")
print(f"training_seconds: {total_training_time:.1f}")
print(f"total_seconds:    {(t_end - t_start) / TIME_SCALE:.1f}")
print(f"peak_vram_mb:     {0.0:.1f}")
print(f"mfu_percent:      {0.0:.2f}")
print(f"total_tokens_M:   {step * DEVICE_BATCH_SIZE * MAX_SEQ_LEN / 1e6:.1f}")
print(f"num_steps:        {step}")
print(f"num_params_M:     {num_params / 1e6:.1f}")
print(f"depth:            {DEPTH}")
