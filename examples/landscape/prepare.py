"""
Locked evaluation of the `landscape` example: a simulated training run.

The "truth" (which constants matter, their optima, how effects move with
depth, the noise) lives in a JSON file, so other landscapes plug in without
code changes. Its path comes from the ARSWARM_LANDSCAPE_TRUTH environment
variable (relative paths are taken from the working directory), else
`truth.json` beside this file.

Model. With x = log2(value) for `"scale": "log"` constants, else x = value,
each constant in `constants` adds

    weight * ((x - x_opt(depth)) / width) ** 2

where x_opt(depth) = x(optimum) + optimum_shift_per_doubling * log2(depth / ref_depth),
clamped into [min, max]: the optimum moves by a fixed amount each time the
depth doubles, as learning rates and batch sizes do in scaling studies, so a
change can help at small depth and hurt at large depth. The noise-free
metric is

    true = floor + (base - floor) * (ref_depth / depth) ** depth_exponent + sum(terms)

so `floor` is what an infinitely deep model with every constant at its
optimum reaches. The observed metric adds Gaussian noise of standard
deviation `noise.sigma` (default 0.002), made of a part drawn from the seed
alone (shared by every configuration run with that seed, so paired
comparisons cancel it; its variance share is `noise.seed_shared`, default
0.5) and a part drawn from the seed and the exact constant values. SEED, and
constants absent from the truth, only move the noise.

While it trains a run prints a learning curve (curve()): the training loss
at each share of the slot, decaying toward ln 2 times the run's observed
metric, with point noise `noise.curve_sigma` (default 0.001), so mid-slot
stopping sees a curve that predicts the final metric, noisily.

Top-level fields: ref_depth, floor, base, depth_exponent (default 0.5),
noise {sigma, seed_shared, curve_sigma}, constants. Per-constant fields: optimum, weight,
scale ("log" | "linear", default linear), width (default 1, in x units),
optimum_shift_per_doubling (default 0), integer (default false), min / max
(inclusive valid range: outside it the run crashes), fail_above (training
diverges: the run prints FAIL and exits 1), note.

Command line (benchmarks and tests use these):

    python3 prepare.py --true-metric train.py [--depth D] [--json]
    python3 prepare.py --optimum [--depth D] [--json]
    python3 prepare.py --describe
"""

import argparse
import hashlib
import json
import math
import os
import random
import runpy
import sys

TRUTH_ENV = "ARSWARM_LANDSCAPE_TRUTH"
DEFAULT_TRUTH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "truth.json")

# Constants that are run parameters, not part of the configuration fingerprint.
RUN_PARAMETERS = ("DEPTH",)


class LandscapeError(ValueError):
    """A setting the simulated model cannot run with (the trial crashes)."""


def truth_path():
    return os.environ.get(TRUTH_ENV) or DEFAULT_TRUTH


def load_truth(path=None):
    path = path or truth_path()
    with open(path, encoding="utf-8") as f:
        truth = json.load(f)
    for key in ("ref_depth", "floor", "base", "constants"):
        if key not in truth:
            raise LandscapeError(f"truth {path}: missing key {key!r}")
    if truth["base"] < truth["floor"]:
        raise LandscapeError(f"truth {path}: base must be >= floor")
    for name, spec in truth["constants"].items():
        if "optimum" not in spec or "weight" not in spec:
            raise LandscapeError(f"truth {path}: constant {name} needs optimum and weight")
        if spec.get("scale", "linear") not in ("log", "linear"):
            raise LandscapeError(f"truth {path}: constant {name}: scale must be log or linear")
        if spec.get("scale") == "log" and spec["optimum"] <= 0:
            raise LandscapeError(f"truth {path}: constant {name}: log-scale optimum must be > 0")
    return truth


def constants_of(namespace):
    """Module-level UPPER_CASE numeric constants of a namespace."""
    out = {}
    for name, value in namespace.items():
        if not name.isupper() or name.startswith("_") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[name] = value
    return out


def read_constants(path):
    """Constants of a train.py, read by executing its module level (not its main)."""
    return constants_of(runpy.run_path(path, run_name="__landscape_inspect__"))


def _x(spec, value):
    if spec.get("scale") == "log":
        return math.log2(value) if value > 0 else -1e9
    return float(value)


def _value(spec, x):
    return 2.0**x if spec.get("scale") == "log" else x


def _clamp(spec, value):
    if "min" in spec:
        value = max(value, spec["min"])
    if "max" in spec:
        value = min(value, spec["max"])
    return value


def optimum_value(spec, depth, ref_depth):
    """Where the constant is best at this depth (real-valued, clamped)."""
    shift = spec.get("optimum_shift_per_doubling", 0.0) * math.log2(depth / ref_depth)
    x_opt = _x(spec, spec["optimum"]) + shift
    return _clamp(spec, _value(spec, x_opt))


def term(spec, value, depth, ref_depth):
    width = spec.get("width", 1.0)
    d = (_x(spec, value) - _x(spec, optimum_value(spec, depth, ref_depth))) / width
    return spec["weight"] * d * d


def base_metric(truth, depth):
    if depth <= 0:
        raise LandscapeError(f"DEPTH must be positive, got {depth}")
    scale = (truth["ref_depth"] / depth) ** truth.get("depth_exponent", 0.5)
    return truth["floor"] + (truth["base"] - truth["floor"]) * scale


def check(truth, constants):
    """Raises LandscapeError for settings the model cannot run with."""
    for name, spec in truth["constants"].items():
        if name not in constants:
            raise LandscapeError(f"{name} is not defined in train.py")
        v = constants[name]
        if spec.get("integer") and float(v) != int(v):
            raise LandscapeError(f"{name} must be an integer, got {v}")
        if "min" in spec and v < spec["min"]:
            raise LandscapeError(f"{name} must be >= {spec['min']}, got {v}")
        if "max" in spec and v > spec["max"]:
            raise LandscapeError(f"{name} must be <= {spec['max']}, got {v}")
        if spec.get("scale") == "log" and v <= 0:
            raise LandscapeError(f"{name} must be > 0, got {v}")


def diverges(truth, constants):
    """Names of constants whose value makes training diverge."""
    return [
        name
        for name, spec in truth["constants"].items()
        if "fail_above" in spec and constants.get(name, 0) > spec["fail_above"]
    ]


def true_metric(constants, depth, truth=None):
    """The noise-free metric of a constant setting at a depth, and its terms."""
    truth = truth or load_truth()
    check(truth, constants)
    terms = {
        name: term(spec, constants[name], depth, truth["ref_depth"])
        for name, spec in truth["constants"].items()
    }
    return base_metric(truth, depth) + sum(terms.values()), terms


def best_setting(truth, depth):
    """The best achievable setting at a depth (integers rounded the better way)."""
    setting = {}
    for name, spec in truth["constants"].items():
        opt = optimum_value(spec, depth, truth["ref_depth"])
        if spec.get("integer"):
            choices = [_clamp(spec, math.floor(opt)), _clamp(spec, math.ceil(opt))]
            choices = [c for c in choices if not (spec.get("scale") == "log" and c <= 0)]
            opt = min(choices, key=lambda c: term(spec, c, depth, truth["ref_depth"]))
            opt = int(opt)
        setting[name] = opt
    return setting


def optimum_metric(depth, truth=None):
    truth = truth or load_truth()
    setting = best_setting(truth, depth)
    return true_metric(setting, depth, truth)[0], setting


def _gauss(*parts):
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).gauss(0.0, 1.0)


def fingerprint(constants):
    return sorted((k, repr(v)) for k, v in constants.items() if k not in RUN_PARAMETERS)


def evaluate(constants, depth, seed, truth=None):
    """
    The observed run: {"val_bpb", "true_metric", "noise", "diverged"}.
    Deterministic in (constants, depth, seed); raises LandscapeError for
    settings the model cannot run with.
    """
    truth = truth or load_truth()
    metric, _ = true_metric(constants, depth, truth)
    bad = diverges(truth, constants)
    if bad:
        return {"val_bpb": float("nan"), "true_metric": metric, "noise": 0.0, "diverged": bad}
    noise_cfg = truth.get("noise", {})
    sigma = noise_cfg.get("sigma", 0.002)
    shared = noise_cfg.get("seed_shared", 0.5)
    z = math.sqrt(shared) * _gauss("seed", int(seed), depth) + math.sqrt(1.0 - shared) * _gauss(
        "run", int(seed), depth, fingerprint(constants)
    )
    return {"val_bpb": metric + sigma * z, "true_metric": metric, "noise": sigma * z, "diverged": []}


# Shape of the learning curve: the loss starts CURVE_LIFT times above its
# end value and decays as exp(-CURVE_RATE * share of the slot).
CURVE_LIFT = 2.5
CURVE_RATE = 6.0


def curve(constants, depth, seed, fraction, truth=None, result=None):
    """
    The training loss a run prints at a share `fraction` (0..1] of its slot,
    in nats per byte: it decays toward ln 2 * the run's own observed val_bpb
    (so a run's curve carries its final noise from the start), the transient
    scaling with the noise-free metric, plus point noise of standard deviation
    `noise.curve_sigma` (default 0.001) drawn from the seed, the constants and
    the point. NaN once a diverging run has failed (past 30 % of the slot).
    Deterministic in (constants, depth, seed, fraction). `result` reuses an
    evaluate() answer of the same arguments.
    """
    truth = truth or load_truth()
    result = result or evaluate(constants, depth, seed, truth)
    if result["diverged"] and fraction > 0.3:
        return float("nan")
    point_sigma = truth.get("noise", {}).get("curve_sigma", 0.001)
    end = result["true_metric"] + result["noise"]
    transient = CURVE_LIFT * result["true_metric"] * math.exp(-CURVE_RATE * fraction)
    noise = point_sigma * _gauss("curve", int(seed), depth, fingerprint(constants), round(fraction, 6))
    return math.log(2) * (end + transient) + noise


def curve_points(constants, depth, seed, updates=20, truth=None):
    """The (fraction, loss) points train.py prints: one every 1/updates of the slot."""
    truth = truth or load_truth()
    result = evaluate(constants, depth, seed, truth)
    return [(i / updates, curve(constants, depth, seed, i / updates, truth, result)) for i in range(1, updates + 1)]


def run_shape(constants, depth):
    """Plausible sizes for the report (they do not feed the metric)."""
    dim = constants.get("MODEL_DIM", 256)
    mlp = constants.get("MLP_RATIO", 4)
    batch = constants.get("BATCH_SIZE", 32)
    vocab = 8192
    params = depth * (4 + 2 * mlp) * dim * dim + 2 * vocab * dim
    vram_mb = 600.0 + depth * dim * batch * (2 + mlp) * 0.012 + params * 16 / 2**20
    steps_per_second = 3.2 * (4 / depth) * (256 / dim) ** 2 * (32 / batch)
    return {"num_params_M": params / 1e6, "peak_vram_mb": vram_mb, "steps_per_second": steps_per_second}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--true-metric", metavar="TRAIN_PY", help="noise-free metric of the constants in a train.py")
    mode.add_argument("--optimum", action="store_true", help="best achievable noise-free metric")
    mode.add_argument("--describe", action="store_true", help="print the truth file in use")
    ap.add_argument("--depth", type=int, help="depth (default: DEPTH env, else the file's DEPTH, else ref_depth)")
    ap.add_argument("--truth", help=f"truth JSON (default: ${TRUTH_ENV} or truth.json)")
    ap.add_argument("--json", action="store_true", help="print a JSON object with the terms")
    args = ap.parse_args(argv)
    truth = load_truth(args.truth)

    if args.describe:
        print(json.dumps({"path": args.truth or truth_path(), "truth": truth}, indent=2))
        return 0

    if args.true_metric:
        constants = read_constants(args.true_metric)
        depth = args.depth or int(os.environ.get("DEPTH") or constants.get("DEPTH") or truth["ref_depth"])
        metric, terms = true_metric(constants, depth, truth)
        if args.json:
            print(json.dumps({"true_metric": metric, "depth": depth, "terms": terms, "diverges": diverges(truth, constants)}))
        else:
            print(f"{metric:.6f}")
        return 0

    depth = args.depth or int(os.environ.get("DEPTH") or truth["ref_depth"])
    metric, setting = optimum_metric(depth, truth)
    if args.json:
        print(json.dumps({"optimum": metric, "depth": depth, "setting": setting}))
    else:
        print(f"{metric:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
