"""
The landscape's own model as a JSON-lines service for the search simulation.

It imports the target's locked prepare.py (the directory is argv[1]) and
answers one JSON object per input line, in order:

    {"op": "eval", "train_py": TEXT, "depth": D, "seed": S, "curve": BOOL}
        -> {"status": "ok", "metric": M, "true_metric": T, "curve": [[FRACTION, LOSS], ...]}
           {"status": "nan", "true_metric": T, "reason": ...}    (diverged: train.py prints FAIL)
           {"status": "crash", "reason": ...}                    (a setting the model cannot run)
    {"op": "true", "train_py": TEXT, "depth": D}
        -> {"status": "ok", "true_metric": T} or {"status": "crash", "reason": ...}
    {"op": "optimum", "depth": D} -> {"status": "ok", "optimum": T, "setting": {...}}

`metric` is rounded as train.py prints it (6 decimals), so the simulation
sees exactly what a worker would parse. Standard library only.
"""

import hashlib
import importlib.util
import json
import math
import os
import sys

# Progress lines train.py prints per slot (one every 5 %).
CURVE_UPDATES = 20


def load_prepare(directory):
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("prepare", os.path.join(directory, "prepare.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["prepare"] = module
    spec.loader.exec_module(module)
    return module


def main():
    directory = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    prepare = load_prepare(directory)
    truth = prepare.load_truth()
    constants_cache = {}

    def constants_of_text(text):
        key = hashlib.sha256(text.encode()).hexdigest()
        hit = constants_cache.get(key)
        if hit is None:
            # train.py's module level only (its main() is guarded), as prepare.read_constants does.
            namespace = {"__name__": "__landscape_inspect__", "__file__": os.path.join(directory, "train.py")}
            exec(compile(text, "train.py", "exec"), namespace)
            hit = prepare.constants_of(namespace)
            constants_cache[key] = hit
        return hit

    def answer(req):
        op = req.get("op")
        if op == "optimum":
            metric, setting = prepare.optimum_metric(int(req["depth"]), truth)
            return {"status": "ok", "optimum": metric, "setting": setting}
        constants = dict(constants_of_text(req["train_py"]))
        depth = int(req["depth"])
        try:
            if op == "true":
                metric, _ = prepare.true_metric(constants, depth, truth)
                return {"status": "ok", "true_metric": metric}
            result = prepare.evaluate(constants, depth, int(req["seed"]), truth)
        except prepare.LandscapeError as err:
            return {"status": "crash", "reason": str(err)}
        if result["diverged"] or math.isnan(result["val_bpb"]):
            return {"status": "nan", "true_metric": result["true_metric"], "reason": f"diverged: {result['diverged']}"}
        out = {"status": "ok", "metric": round(result["val_bpb"], 6), "true_metric": result["true_metric"]}
        if req.get("curve"):
            # The learning curve train.py prints, rounded as it prints it.
            out["curve"] = [
                [f, round(prepare.curve(constants, depth, int(req["seed"]), f, truth, result), 6)]
                for f in (i / CURVE_UPDATES for i in range(1, CURVE_UPDATES + 1))
            ]
        return out

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            out = answer(json.loads(line))
        except Exception as err:  # a malformed request must not kill the service
            out = {"status": "error", "reason": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
