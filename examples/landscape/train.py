"""
Simulated training run for the arswarm `landscape` example.

Nothing is trained: the locked prepare.py turns the constants below (and the
depth) into a validation metric plus seeded noise, and this script sleeps for
the slot so that a swarm sees realistic timing. Standard library only.

Environment: DEPTH (default: the DEPTH constant), TIME_BUDGET (seconds,
default 300), SEED (noise seed, default: the SEED constant),
ARSWARM_TIME_SCALE (multiplies every sleep; default 1.0).
"""

import os
import sys
import time

from prepare import evaluate, run_shape, constants_of, curve

# ---------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------

DEPTH = 4  # number of layers; the DEPTH environment variable overrides it
MODEL_DIM = 256
N_HEADS = 4
MLP_RATIO = 4
LEARNING_RATE = 0.001
WARMUP_STEPS = 0
WEIGHT_DECAY = 0.0
DROPOUT = 0.1
BATCH_SIZE = 32
ADAM_BETA1 = 0.9
GRAD_CLIP = 1.0
SEED = 42

# ---------------------------------------------------------------------------


def main():
    t_start = time.time()
    depth = int(os.environ.get("DEPTH") or DEPTH)
    seed = int(os.environ.get("SEED") or SEED)
    time_budget = float(os.environ.get("TIME_BUDGET") or 300)
    time_scale = float(os.environ.get("ARSWARM_TIME_SCALE") or 1.0)

    constants = constants_of(globals())
    result = evaluate(constants, depth, seed)
    shape = run_shape(constants, depth)
    startup_seconds = 20.0 + 0.5 * depth  # simulated compile time, not counted in the budget
    total_steps = max(1, int(time_budget * shape["steps_per_second"]))
    stop_fraction = 0.3 if result["diverged"] else 1.0

    updates = 20
    time.sleep(startup_seconds * time_scale)
    for i in range(1, updates + 1):
        frac = i / updates
        time.sleep(time_budget * time_scale / updates)
        step = int(total_steps * frac)
        if frac > stop_fraction:
            print(f"\rstep {step:05d} ({100 * frac:.1f}%) | loss: nan | remaining: {time_budget * (1 - frac):.0f}s")
            print("FAIL")
            sys.exit(1)
        # The locked model's learning curve, so mid-slot stopping sees what the simulation sees.
        loss = curve(constants, depth, seed, frac, result=result)
        dt_ms = 1000.0 / shape["steps_per_second"]
        print(
            f"\rstep {step:05d} ({100 * frac:.1f}%) | loss: {loss:.6f} | dt: {dt_ms:.0f}ms "
            f"| remaining: {time_budget * (1 - frac):.0f}s    ",
            end="",
            flush=True,
        )
    print()

    val_bpb = result["val_bpb"]
    training_seconds = time_budget + 0.1
    total_seconds = training_seconds + startup_seconds + 5.0
    wall_seconds = time.time() - t_start
    print("---")
    print(f"val_bpb:          {val_bpb:.6f}")
    print(f"training_seconds: {training_seconds:.1f}")
    print(f"total_seconds:    {total_seconds:.1f}")
    print(f"peak_vram_mb:     {shape['peak_vram_mb']:.1f}")
    print(f"num_steps:        {total_steps}")
    print(f"num_params_M:     {shape['num_params_M']:.1f}")
    print(f"depth:            {depth}")
    print(f"wall_seconds:     {wall_seconds:.2f}")


if __name__ == "__main__":
    main()
