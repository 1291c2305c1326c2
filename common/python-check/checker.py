"""
arswarm's semantic checker for patched Python files, run as one long-lived
process: one JSON request per stdin line, one JSON answer per stdout line.

Request:  {"id", "op": "semantic", "path", "source", "before"?, "locked_files",
           "eval_functions", "locked_names", "report_keys"}
Answer:   {"id", "ok": true, "violations": [{"rule", "line", "message"}]}
          or {"id", "ok": false, "error"} when the request itself is bad.

The checks are static (Python's own `ast`): they refuse what a patch visibly
does to the evaluation, not every way a program could lie. A violation that
the unpatched file (`before`) already has is not blamed on the patch.
Standard library only; runs on Python 3.8 or later.
"""

import ast
import json
import os
import sys

# The rule modules sit beside this file; -I keeps the script's folder off sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ast_rules import Checker  # noqa: E402


def violations_of(source, path, req):
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        return [{"rule": "syntax-error", "line": e.lineno or 0, "message": "does not parse: %s" % e.msg}]
    return Checker(tree, req).run()


def semantic(req):
    path = req["path"]
    after = violations_of(req["source"], path, req)
    before = req.get("before")
    if before is not None and after:
        # What the unpatched file already does is not the patch's doing: compare by rule and line text.
        lines_before = before.split("\n")
        lines_after = req["source"].split("\n")
        seen = {}
        for v in violations_of(before, path, req):
            key = (v["rule"], line_text(lines_before, v["line"]))
            seen[key] = seen.get(key, 0) + 1
        fresh = []
        for v in after:
            key = (v["rule"], line_text(lines_after, v["line"]))
            if seen.get(key, 0) > 0:
                seen[key] -= 1
            else:
                fresh.append(v)
        after = fresh
    after.sort(key=lambda v: v["line"])
    return {"ok": True, "violations": after}


def line_text(lines, n):
    return lines[n - 1].strip() if 0 < n <= len(lines) else ""


def main():
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError as e:
            sys.stdout.write(json.dumps({"id": None, "ok": False, "error": "bad request: %s" % e}) + "\n")
            sys.stdout.flush()
            continue
        try:
            if req.get("op") == "semantic":
                res = semantic(req)
            elif req.get("op") == "ping":
                res = {"ok": True, "version": list(sys.version_info[:3])}
            else:
                res = {"ok": False, "error": "unknown op %r" % req.get("op")}
        except Exception as e:  # a checker bug must answer, not hang the caller
            res = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        res["id"] = req.get("id")
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
