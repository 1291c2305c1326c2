"""
The evaluation's result: the value a locked evaluation function returns must
reach the report unchanged (no arithmetic on the call, no later rebinding or
mutation of the variable that holds it, or of a value read out of it).
A mixin of the Checker in ast_rules.py, which supplies the helpers.
"""

import ast

from ast_names import MUTATING_METHODS, PASS_THROUGH_CALLS


class EvalResultRules:
    def eval_call(self, node):
        if not isinstance(node, ast.Call):
            return False
        q = self.resolve(node.func)
        if not q or not self.locked_module(q):
            return False
        return q.rsplit(".", 1)[-1] in self.eval_functions

    def eval_results(self):
        # name -> (scope, defining statement, line of the evaluation)
        results = {}
        order = sorted((n for n in self.nodes if isinstance(n, ast.stmt)),
                       key=lambda n: (n.lineno, n.col_offset))
        for call in (n for n in self.nodes if self.eval_call(n)):
            child, p = call, call.parent
            while not isinstance(p, ast.stmt):
                passes = (
                    isinstance(p, (ast.Dict, ast.Tuple, ast.List, ast.Await, ast.keyword, ast.Subscript))
                    or (isinstance(p, ast.Call) and self.resolve(p.func) in PASS_THROUGH_CALLS)
                    or (isinstance(p, ast.Attribute) and p.attr == "item")
                    or (isinstance(p, ast.Call) and isinstance(p.func, ast.Attribute) and p.func.attr == "item"
                        and p.func.value is child)
                )
                if isinstance(p, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.IfExp)):
                    self.add("eval-result-mutation", p, "the evaluation's return value goes through %s before it is stored"
                             % ("arithmetic" if isinstance(p, (ast.BinOp, ast.UnaryOp)) else "a condition"))
                    break
                if not passes and isinstance(p, ast.Call) and child in p.args:
                    break  # handed to another function: not tracked
                child, p = p, p.parent
            if isinstance(p, (ast.Assign, ast.AnnAssign)):
                for t in (p.targets if isinstance(p, ast.Assign) else [p.target]):
                    for name in self.target_names(t):
                        results[name] = (self.scope_of(p), p, call.lineno)
            elif isinstance(p, ast.stmt) and isinstance(call.parent, ast.NamedExpr):
                results[call.parent.target.id] = (self.scope_of(call.parent, walrus=True), p, call.lineno)
        # Values read out of a result (`val_bpb = result["val_bpb"]`) are results too.
        for stmt in order:
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
                continue
            v = stmt.value
            while True:
                if isinstance(v, (ast.Subscript, ast.Attribute)):
                    v = v.value
                elif isinstance(v, ast.Call) and (self.resolve(v.func) in PASS_THROUGH_CALLS) and v.args:
                    v = v.args[0]
                elif isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "item":
                    v = v.func.value
                else:
                    break
            if isinstance(v, ast.Name) and v.id in results and results[v.id][0] is self.scope_of(stmt) \
                    and stmt.lineno > results[v.id][1].lineno:
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                    for name in self.target_names(t):
                        if name not in results:
                            results[name] = (self.scope_of(stmt), stmt, results[v.id][2])
        for name, (scope, stmt, line) in results.items():
            self.result_uses(name, scope, stmt, line)

    def target_names(self, t):
        if isinstance(t, ast.Name):
            return [t.id]
        if isinstance(t, (ast.Tuple, ast.List)):
            return [n for e in t.elts for n in self.target_names(e)]
        if isinstance(t, ast.Starred):
            return self.target_names(t.value)
        return []

    def owner_scope(self, node, name):
        """The scope a binding of `name` at node writes, after global / nonlocal declarations."""
        scope = self.scope_of(node, walrus=isinstance(getattr(node, "parent", None), ast.NamedExpr))
        for stmt in ast.walk(scope) if not isinstance(scope, ast.Module) else []:
            if isinstance(stmt, ast.Global) and name in stmt.names:
                return self.tree
            if isinstance(stmt, ast.Nonlocal) and name in stmt.names:
                return self.scope_of(scope)
        return scope

    def result_uses(self, name, scope, defining, line):
        what = "%s holds the evaluation's result (line %d)" % (name, line)
        for node in self.nodes:
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
                if self.statement_of(node) is defining or self.owner_scope(node, name) is not scope:
                    continue
                self.add("eval-result-mutation", node, "%s; it is %s here" % (
                    what, "deleted" if isinstance(node.ctx, ast.Del) else "reassigned"))
            elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
                root = self.root_name(node)
                if root is not None and root.id == name and self.scope_of(node) is scope \
                        and self.statement_of(node) is not defining:
                    self.add("eval-result-mutation", node, "%s; %s changes it" % (what, self.text(node)))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in MUTATING_METHODS:
                root = self.root_name(node.func.value)
                if root is not None and root.id == name and self.scope_of(node) is scope:
                    self.add("eval-result-mutation", node, "%s; %s() changes it" % (what, node.func.attr))
