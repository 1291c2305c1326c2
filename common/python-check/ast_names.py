"""
Names the semantic checker knows: which builtins, attributes and calls can
change what a locked evaluation measured or what a report prints.
"""

import ast
import builtins
# Builtins whose replacement changes what a report prints or how a number reads.
GUARDED_BUILTINS = {
    "print", "float", "int", "str", "repr", "format", "round", "open", "exit", "quit",
    "__import__", "__build_class__", "globals", "vars", "getattr", "setattr", "delattr",
    "exec", "eval", "compile", "locals", "hasattr",
}
BUILTIN_NAMES = set(dir(builtins))
# Dunder attributes that are harmless to read on a locked object.
READABLE_DUNDERS = {"__name__", "__doc__", "__qualname__", "__module__", "__file__", "__version__"}
MUTATING_METHODS = {
    "update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove",
    "sort", "reverse", "add", "discard", "__setitem__", "__delitem__", "__setattr__",
    "__delattr__", "difference_update", "intersection_update", "symmetric_difference_update",
}
EXIT_HOOK_CALLS = {
    "signal.signal", "signal.setitimer", "signal.alarm", "signal.set_wakeup_fd",
    "sys.settrace", "sys.setprofile", "sys.addaudithook", "threading.settrace",
    "threading.setprofile", "threading.settrace_all_threads", "threading.setprofile_all_threads",
    "weakref.finalize",
}
HOOK_ATTRS = {
    "sys.excepthook", "sys.unraisablehook", "sys.displayhook", "sys.breakpointhook",
    "threading.excepthook",
}
STREAM_ATTRS = {"sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__"}
REDIRECT_CALLS = {
    "contextlib.redirect_stdout", "contextlib.redirect_stderr", "os.dup2", "os.dup", "os.close",
    "os.closerange",
}
BACKGROUND_CALLS = {
    "threading.Thread", "threading.Timer", "_thread.start_new_thread", "_thread.start_new",
    "os.fork", "os.forkpty", "os.system", "os.popen", "multiprocessing.Process", "pty.spawn",
    "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
}
BACKGROUND_PREFIXES = ("subprocess.", "os.spawn", "os.exec", "os.posix_spawn")
EXIT_CALLS = {"builtins.exit", "builtins.quit", "sys.exit", "os._exit"}
IMPORT_SYSTEM = {"sys.meta_path", "sys.path_hooks", "sys.path", "sys.path_importer_cache"}
DYNAMIC_CALLS = {
    "builtins.exec", "builtins.eval", "builtins.compile", "builtins.__import__",
    "sys._getframe", "inspect.currentframe", "inspect.stack", "inspect.getouterframes",
    "gc.get_referrers", "gc.get_objects", "gc.get_referents",
}
NAMESPACE_CALLS = {"builtins.globals", "builtins.locals", "builtins.vars"}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
PASS_THROUGH_CALLS = {"builtins.float"}
# Environment variables every trial gets from the worker (TIME_BUDGET, SEED; stage parameters are per target).
RUN_PARAMETERS = {"TIME_BUDGET", "SEED"}


def module_of(path):
    """`prepare.py` -> `prepare`, `pkg/util.py` -> `pkg.util`, `pkg/__init__.py` -> `pkg`."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None
