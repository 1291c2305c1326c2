"""The optuna side of arswarm's `optuna` proposer: one study, spoken to over
JSON lines on stdin/stdout. Every request carries an "id" echoed in its
answer; an answer is {"id", "ok": true, ...} or {"id", "ok": false, "error"}.

Requests ("op"):
  init  {sampler: tpe|cmaes, seed, direction, space: {name: {low, high, log, int}},
         warm: [{params, value|null, pruned?}]}  a fresh study; `warm` are trials
         already measured (a restart's history, other proposers' changes)
  ask   {}                              -> {number, params}
  tell  {number, value|null, pruned?}   the verdict of an asked trial (null: it failed;
                                        pruned: stopped mid-slot as clearly worse)
  add   {params, value|null, pruned?}   a trial measured elsewhere (no ask)
  best  {k}                             -> {trials: [{params, value}]} best first

Debian's python3-optuna (3.1) and python3-cmaes provide the samplers.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

try:
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial
except ImportError as e:  # answered to the first request, so the caller can say what to install
    optuna = None
    IMPORT_ERROR = "optuna is not importable (%s): install python3-optuna and python3-cmaes" % e


class Study:
    def __init__(self, req):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.dists = {}
        for name, d in req["space"].items():
            if d.get("int"):
                self.dists[name] = IntDistribution(int(d["low"]), int(d["high"]), log=bool(d.get("log")))
            else:
                self.dists[name] = FloatDistribution(float(d["low"]), float(d["high"]), log=bool(d.get("log")))
        warm = [self.frozen(w["params"], w.get("value"), w.get("pruned")) for w in req.get("warm", [])]
        warm = [t for t in warm if t is not None]
        seed = int(req.get("seed", 1))
        if req.get("sampler") == "cmaes":
            done = [t for t in warm if t.state == TrialState.COMPLETE]
            sign = -1 if req.get("direction") == "maximize" else 1
            best = min(done, key=lambda t: sign * t.value) if done else None
            # CMA-ES learns only from its own generations: a rebuilt study
            # starts its search from the best trial measured so far.
            sampler = optuna.samplers.CmaEsSampler(
                x0=dict(best.params) if best else None, seed=seed, warn_independent_sampling=False
            )
        else:
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(req.get("startup", 10)))
        self.study = optuna.create_study(direction=req.get("direction", "minimize"), sampler=sampler)
        for t in warm:
            self.study.add_trial(t)

    def clip(self, params):
        out = {}
        for name, d in self.dists.items():
            if name not in params:
                return None
            v = params[name]
            v = min(max(v, d.low), d.high)
            out[name] = int(round(v)) if isinstance(d, IntDistribution) else float(v)
        return out

    def frozen(self, params, value, pruned=False):
        p = self.clip(params)
        if p is None:
            return None
        if pruned:
            # TPE ranks a pruned trial below every completed one.
            return create_trial(params=p, distributions=self.dists, state=TrialState.PRUNED)
        if value is None:
            return create_trial(params=p, distributions=self.dists, state=TrialState.FAIL)
        return create_trial(params=p, distributions=self.dists, value=float(value))

    def ask(self):
        t = self.study.ask(self.dists)
        return {"number": t.number, "params": t.params}

    def tell(self, number, value, pruned=False):
        if pruned:
            self.study.tell(number, state=TrialState.PRUNED)
        elif value is None:
            self.study.tell(number, state=TrialState.FAIL)
        else:
            self.study.tell(number, float(value))
        return {}

    def add(self, params, value, pruned=False):
        t = self.frozen(params, value, pruned)
        if t is not None:
            self.study.add_trial(t)
        return {"added": t is not None}

    def best(self, k):
        done = [t for t in self.study.trials if t.state == TrialState.COMPLETE and t.value is not None]
        sign = -1 if self.study.direction == optuna.study.StudyDirection.MAXIMIZE else 1
        done.sort(key=lambda t: sign * t.value)
        return {"trials": [{"params": t.params, "value": t.value} for t in done[: int(k)]]}


def answer(req, study):
    op = req.get("op")
    if optuna is None:
        raise RuntimeError(IMPORT_ERROR)
    if op == "init":
        return Study(req), {}
    if study is None:
        raise RuntimeError("no study yet: send init first")
    if op == "ask":
        return study, study.ask()
    if op == "tell":
        return study, study.tell(int(req["number"]), req.get("value"), bool(req.get("pruned")))
    if op == "add":
        return study, study.add(req["params"], req.get("value"), bool(req.get("pruned")))
    if op == "best":
        return study, study.best(req.get("k", 5))
    raise RuntimeError("unknown op %r" % op)


def main():
    study = None
    for line in sys.stdin:
        if not line.strip():
            continue
        req = {}
        try:
            req = json.loads(line)
            study, res = answer(req, study)
            res = dict(res, id=req.get("id"), ok=True)
        except Exception as e:  # every failure is an answer, never a dead server
            res = {"id": req.get("id"), "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
