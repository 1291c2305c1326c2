"""
The semantic rules of one patched Python file (everything but the
evaluation's result, which eval_result.py checks): names and modules of
locked files, builtins, hooks that run after the report, output redirects,
background tasks, early exits, dynamic code, strings that print a result
block, library monkeypatching and locked file names.
"""

import ast

from ast_names import *  # noqa: F401,F403 (the lists of names this checker matches)
from ast_names import module_of
from eval_result import EvalResultRules


class Checker(EvalResultRules):
    def __init__(self, tree, req):
        self.tree = tree
        self.violations = []
        self.modules = {}  # locked module name -> its file
        self.locked_files = list(req.get("locked_files", []))
        for f in req.get("locked_files", []):
            m = module_of(f)
            if m:
                self.modules[m] = f
        self.eval_functions = set(req.get("eval_functions", []))
        self.extra_locked = set(req.get("locked_names", []))
        self.report_keys = [k for k in req.get("report_keys", []) if k]
        self.qual = {}  # local name -> dotted name it was imported as
        self.locked_import = {}  # local name -> dotted locked name (first binding wins)
        # Every node once, in walk order, each with its parent: the checks below reuse this list.
        self.nodes = [tree]
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                child.parent = node
                self.nodes.append(child)
        self.alias_statements = set()  # `ev = prepare.evaluate_bpb`: statements that make an alias
        # Local names bound by `import X [as Y]` (modules, whatever `from` imports are).
        self.imported_modules = {a.asname or a.name.split(".")[0]
                                 for n in self.nodes if isinstance(n, ast.Import) for a in n.names}
        self.imported_modules |= {a.asname or a.name for n in self.nodes if isinstance(n, ast.ImportFrom)
                                  for a in n.names if a.name != "*" and not self.locked_module(n.module)}
        self.defined_here = {n.name for n in self.nodes
                             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        self.collect_imports()
        self.collect_aliases()

    # ---- helpers -------------------------------------------------------------------------

    def add(self, rule, node, message):
        self.violations.append({"rule": rule, "line": getattr(node, "lineno", 0), "message": message})

    def locked_module(self, dotted):
        """The locked module a dotted name lives in, or None."""
        if dotted is None:
            return None
        for m in self.modules:
            if dotted == m or dotted.startswith(m + "."):
                return m
        return None

    def resolve(self, node):
        """Dotted name an expression refers to (`p.X` -> `prepare.X`), or None."""
        if isinstance(node, ast.Name):
            if node.id in self.qual:
                return self.qual[node.id]
            if node.id == "__builtins__":
                return "builtins"
            if node.id in BUILTIN_NAMES:
                return "builtins." + node.id
            return None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return base + "." + node.attr if base else None
        return None

    def describe_locked(self, dotted):
        m = self.locked_module(dotted)
        return "locked %s" % self.modules[m] if m else "a locked name"

    def root_name(self, node):
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        return node if isinstance(node, ast.Name) else None

    def is_locked_ref(self, node):
        """The expression is (an attribute or item of) a locked module or an object imported from one."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.locked_import

    def scope_of(self, node, walrus=False):
        p = getattr(node, "parent", None)
        while p is not None:
            if isinstance(p, COMPREHENSIONS) and not walrus:
                return p
            if isinstance(p, SCOPES):
                return p
            p = getattr(p, "parent", None)
        return self.tree

    def statement_of(self, node):
        while node is not None and not isinstance(node, ast.stmt):
            node = getattr(node, "parent", None)
        return node

    # ---- imports ---------------------------------------------------------------------------

    def collect_imports(self):
        imports = [n for n in self.nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
        imports.sort(key=lambda n: (n.lineno, n.col_offset))
        for node in imports:
            for alias in node.names:
                if isinstance(node, ast.Import):
                    local = alias.asname or alias.name.split(".")[0]
                    dotted = alias.name if alias.asname else alias.name.split(".")[0]
                else:
                    if alias.name == "*":
                        if self.locked_module(node.module):
                            self.add("locked-module-mutation", node,
                                     "star import from %s hides which names are locked"
                                     % self.describe_locked(node.module))
                        continue
                    local = alias.asname or alias.name
                    dotted = "%s.%s" % (node.module or "", alias.name)
                    dotted = dotted.lstrip(".")
                locked = self.locked_module(dotted) or (
                    isinstance(node, ast.Import) and not alias.asname and self.locked_module(alias.name))
                if local in GUARDED_BUILTINS:
                    self.add("builtin-override", node, "import as %s shadows the builtin" % local)
                elif local in self.extra_locked:
                    self.add("locked-name-assign", node, "import shadows %s, a locked name" % local)
                if local in self.locked_import:
                    if self.locked_import[local] != dotted:
                        self.add("locked-name-assign", node,
                                 "import shadows %s imported from %s"
                                 % (local, self.describe_locked(self.locked_import[local])))
                    continue
                if dotted.split(".")[0] in ("ctypes", "_ctypes"):
                    self.add("dynamic-code", node, "ctypes reaches memory and code the checker cannot see")
                if locked:
                    self.locked_import[local] = dotted
                self.qual[local] = dotted

    def collect_aliases(self):
        """`ev = prepare.evaluate_bpb` (module level, one plain name): ev is locked like what it names."""
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                dotted = self.resolve(stmt.value)
                name = stmt.targets[0].id
                if self.locked_module(dotted) and name not in self.locked_import:
                    self.locked_import[name] = dotted
                    self.qual[name] = dotted
                    self.alias_statements.add(stmt)

    # ---- the walk --------------------------------------------------------------------------

    def run(self):
        for node in self.nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.binding(node.id, node, self.binding_kind(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.binding(node.name, node, "class" if isinstance(node, ast.ClassDef) else "def")
                self.decorators(node)
                if node.name == "__del__":
                    self.add("exit-hook", node, "a __del__ method runs at an unknown time, after the report")
            elif isinstance(node, ast.arguments):
                every = getattr(node, "posonlyargs", []) + node.args + node.kwonlyargs + [node.vararg, node.kwarg]
                for a in every:
                    if a is not None:
                        self.binding(a.arg, a, "parameter")
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.binding(node.name, node, "except-as target")
            elif type(node).__name__ in ("MatchAs", "MatchStar") and getattr(node, "name", None):
                self.binding(node.name, node, "match capture")
            elif type(node).__name__ == "MatchMapping" and getattr(node, "rest", None):
                self.binding(node.rest, node, "match capture")
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                self.access(node)
            elif isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Raise):
                self.raise_(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                self.constant(node)
        self.eval_results()
        return self.violations

    def binding_kind(self, node):
        p = node.parent
        while isinstance(p, (ast.Tuple, ast.List, ast.Starred)):
            p = p.parent
        if isinstance(node.ctx, ast.Del):
            return "deletion of"
        return {
            ast.Assign: "assignment to",
            ast.AugAssign: "augmented assignment to",
            ast.AnnAssign: "annotated assignment to",
            ast.For: "for-loop target",
            ast.AsyncFor: "for-loop target",
            ast.withitem: "with-as target",
            ast.NamedExpr: "walrus assignment to",
            ast.comprehension: "comprehension target",
        }.get(type(p), "assignment to")

    def binding(self, name, node, kind):
        if self.statement_of(node) in self.alias_statements:
            return
        if name in self.locked_import:
            self.add("locked-name-assign", node, "%s %s imported from %s"
                     % (kind, name, self.describe_locked(self.locked_import[name])))
        elif name in self.extra_locked:
            self.add("locked-name-assign", node, "%s %s, a locked name" % (kind, name))
        elif name in GUARDED_BUILTINS:
            self.add("builtin-override", node, "%s %s shadows the builtin" % (kind, name))

    def decorators(self, node):
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            q = self.resolve(target) or ""
            if q.startswith("atexit."):
                self.add("exit-hook", d, "@%s runs code after the report" % q)

    def access(self, node):
        """Attribute and item access: stores into locked, builtin and sys objects."""
        store = isinstance(node.ctx, (ast.Store, ast.Del))
        verb = "deletion of" if isinstance(node.ctx, ast.Del) else "assignment to"
        target = self.resolve(node) if isinstance(node, ast.Attribute) else None
        base = self.resolve(node.value)
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__") \
                and node.attr not in READABLE_DUNDERS and self.is_locked_ref(node.value):
            self.add("locked-module-mutation", node, "access to %s of %s (%s)"
                     % (node.attr, self.text(node.value),
                        self.describe_locked(self.locked_import.get(self.root_name(node).id))))
            return
        if store and self.is_locked_ref(node.value):
            root = self.root_name(node)
            self.add("locked-module-mutation", node, "%s %s (%s)"
                     % (verb, self.text(node), self.describe_locked(self.locked_import.get(root.id))))
            return
        if not store and isinstance(node, ast.Subscript) and base == "sys.modules":
            key = node.slice.value if isinstance(node.slice, ast.Constant) else None
            if not isinstance(key, str) or self.locked_module(key):
                self.add("locked-module-mutation", node, "%s reaches a locked module through sys.modules"
                         % self.text(node))
            return
        if not store:
            return
        if base == "builtins" or (target or "").startswith("builtins."):
            self.add("builtin-override", node, "%s %s" % (verb, self.text(node)))
        elif target in STREAM_ATTRS:
            self.add("output-redirect", node, "%s %s redirects the report" % (verb, target))
        elif target in HOOK_ATTRS:
            self.add("exit-hook", node, "%s %s runs code after the report" % (verb, target))
        elif base == "sys.modules" or base in IMPORT_SYSTEM or target in IMPORT_SYSTEM or target == "sys.modules":
            self.add("locked-module-mutation", node, "%s %s changes what imports return" % (verb, self.text(node)))
        elif isinstance(node, ast.Subscript) and self.namespace_call(node.value):
            self.add("dynamic-code", node, "%s %s writes a namespace by name" % (verb, self.text(node)))
        elif isinstance(node, ast.Subscript) and base == "os.environ" and self.locked_env_key(node.slice):
            self.add("locked-name-assign", node, "%s %s, a run parameter the locked code reads" % (verb, self.text(node)))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and base \
                and node.value is not None and self.imported_module_path(node.value) and self.is_code(node):
            self.add("library-monkeypatch", node, "%s %s replaces a library function the locked evaluation may call"
                     % (verb, self.text(node)))

    def imported_module_path(self, node):
        """`torch.nn.functional`, `F` (import torch.nn.functional as F), `math`: an expression naming an imported module."""
        root = self.root_name(node)
        return root is not None and root.id in self.imported_modules and isinstance(node, (ast.Name, ast.Attribute))

    def is_code(self, target):
        """The value stored is code: a lambda, a function or class of this file, or functools.partial(...)."""
        stmt = self.statement_of(target)
        value = getattr(stmt, "value", None)
        if isinstance(value, ast.Lambda):
            return True
        if isinstance(value, ast.Name) and value.id in self.defined_here:
            return True
        return isinstance(value, ast.Call) and self.resolve(value.func) in ("functools.partial", "types.MethodType")

    def locked_env_key(self, key):
        return isinstance(key, ast.Constant) and isinstance(key.value, str) and (
            key.value in RUN_PARAMETERS or key.value.startswith("ARSWARM_") or key.value in self.locked_import
            or key.value in self.extra_locked)

    def namespace_call(self, node):
        return isinstance(node, ast.Call) and self.resolve(node.func) in NAMESPACE_CALLS

    def call(self, node):
        q = self.resolve(node.func)
        args = node.args
        first = args[0] if args else None
        if q in ("builtins.setattr", "builtins.delattr") and first is not None:
            if self.is_locked_ref(first):
                self.add("locked-module-mutation", node, "%s on %s (%s)" % (
                    q[9:], self.text(first), self.describe_locked(self.locked_import.get(self.root_name(first).id))))
            elif self.resolve(first) == "builtins":
                self.add("builtin-override", node, "%s on builtins" % q[9:])
            elif self.resolve(first) == "sys":
                self.add("output-redirect", node, "%s on sys can replace its streams or hooks" % q[9:])
            elif isinstance(first, (ast.Name, ast.Attribute)) and self.imported_module_path(first):
                self.add("library-monkeypatch", node, "%s on %s replaces a library function the locked evaluation may call"
                         % (q[9:], self.text(first)))
            return
        if q in ("os.putenv", "os.unsetenv") and first is not None and self.locked_env_key(first) or (
                isinstance(node.func, ast.Attribute) and self.resolve(node.func.value) == "os.environ"
                and node.func.attr in MUTATING_METHODS
                and (any(self.locked_env_key(a) for a in args)
                     or any(k.arg and self.locked_env_key(ast.Constant(k.arg)) for k in node.keywords))):
            self.add("locked-name-assign", node, "%s sets a run parameter the locked code reads" % self.text(node))
            return
        for a in args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and self.locked_file(a.value):
                self.add("locked-file-access", node, "%s names the locked file %s" % (self.text(node), a.value))
                return
        if q == "builtins.getattr" and first is not None and self.is_locked_ref(first):
            name = args[1] if len(args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)) or (
                    name.value.startswith("__") and name.value not in READABLE_DUNDERS):
                self.add("locked-module-mutation", node, "dynamic attribute access on %s" % self.text(first))
            return
        if q == "builtins.vars" and first is not None and (self.is_locked_ref(first) or self.resolve(first) == "builtins"):
            self.add("locked-module-mutation", node, "vars(%s) exposes a locked namespace" % self.text(first))
            return
        if q in ("importlib.reload", "imp.reload"):
            self.add("locked-module-mutation", node, "%s replaces a module's contents" % q)
            return
        if q in ("importlib.import_module", "builtins.__import__"):
            name = first.value if isinstance(first, ast.Constant) else None
            if isinstance(name, str) and self.locked_module(name):
                self.add("locked-module-mutation", node, "dynamic import of %s" % self.describe_locked(name))
            elif q == "builtins.__import__" or not isinstance(name, str):
                self.add("dynamic-code", node, "%s with a computed module name" % q.replace("builtins.", ""))
            return
        if q in DYNAMIC_CALLS:
            self.add("dynamic-code", node, "%s() runs code or reaches frames the checker cannot see"
                     % q.replace("builtins.", ""))
            return
        if q and (q.startswith("atexit.") and q != "atexit.unregister" or q in EXIT_HOOK_CALLS):
            self.add("exit-hook", node, "%s() runs code outside the report's order" % q)
            return
        if q in REDIRECT_CALLS:
            self.add("output-redirect", node, "%s() redirects or closes output" % q)
            return
        if q and (q in BACKGROUND_CALLS or q.startswith(BACKGROUND_PREFIXES)):
            self.add("background-task", node, "%s() starts code that can print after the report" % q)
            return
        if q in EXIT_CALLS and self.successful_exit(args):
            self.add("early-exit", node, "%s() with a success status ends the run before the evaluation"
                     % q.replace("builtins.", ""))
            return
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            owner = node.func.value
            if method in MUTATING_METHODS and self.is_locked_ref(owner):
                self.add("locked-module-mutation", node, "%s() on %s (%s)" % (
                    method, self.text(owner), self.describe_locked(self.locked_import.get(self.root_name(owner).id))))
            elif self.resolve(owner) == "sys.modules" and (
                    method in MUTATING_METHODS or (first is not None and not (
                        isinstance(first, ast.Constant) and isinstance(first.value, str)
                        and not self.locked_module(first.value)))):
                self.add("locked-module-mutation", node, "sys.modules.%s() reaches or replaces modules" % method)
            elif (self.resolve(owner) in IMPORT_SYSTEM) and method in MUTATING_METHODS:
                self.add("locked-module-mutation", node, "%s.%s() changes what imports return"
                         % (self.resolve(owner), method))
            elif self.resolve(owner) in STREAM_ATTRS and method in ("close", "detach"):
                self.add("output-redirect", node, "%s.%s() cuts the report" % (self.resolve(owner), method))
            elif self.namespace_call(owner) and method in MUTATING_METHODS:
                self.add("dynamic-code", node, "%s() on %s writes a namespace by name" % (method, self.text(owner)))
            elif (self.resolve(owner) or "").startswith("builtins") and method in MUTATING_METHODS:
                self.add("builtin-override", node, "%s() on %s" % (method, self.text(owner)))

    def successful_exit(self, args):
        if not args:
            return True
        a = args[0]
        if isinstance(a, ast.Constant):
            return a.value in (0, None, False)
        return True

    def raise_(self, node):
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if exc is not None and self.resolve(exc) == "builtins.SystemExit":
            args = node.exc.args if isinstance(node.exc, ast.Call) else []
            if self.successful_exit(args):
                self.add("early-exit", node, "raise SystemExit with a success status ends the run early")

    def locked_file(self, text):
        t = text.strip().lstrip("./")
        return any(t == f or t.endswith("/" + f) for f in self.locked_files)

    def constant(self, node):
        value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
        for line in value.split("\n"):
            t = line.strip()
            if t == "---" or any(t.startswith(k + ":") for k in self.report_keys):
                self.add("result-block-print", node, "a string that writes the result block (%r)" % t[:40])
                return

    def text(self, node):
        try:
            return ast.unparse(node)[:60]
        except Exception:
            return "an expression"
