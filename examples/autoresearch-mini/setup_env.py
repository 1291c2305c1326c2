"""
Prepares the target's environment once per worker (arswarm's target.setup),
the way `uv sync --frozen` fills UV_PROJECT_ENVIRONMENT for the real
autoresearch: a virtual environment (standard library only, no pip) at
$ARSWARM_TARGET_ENV. When ARSWARM_MINI_SETUP_LOG names a file, one line is
appended per run, so a test can count how often the setup ran.

The worker prepares the environment as itself, and trials may run as another
uid (trial isolation) that can read it but not change it. So the venv is made
from the first python3 on PATH that every user may run: a venv links to its
base interpreter, and one under a private home (e.g. pyenv in /root) would
not start for the trial's uid.
"""

import os
import shutil
import stat
import subprocess
import sys
import time


def runnable_by_all(path):
    """True when every directory up to the file is searchable by others and the file executable by them."""
    real = os.path.realpath(path)
    if not os.stat(real).st_mode & stat.S_IXOTH:
        return False
    d = os.path.dirname(real)
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(d)
        if parent == d:
            return True
        d = parent


def base_python():
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = shutil.which("python3", path=d)
        if p and runnable_by_all(p):
            return p
    return sys.executable


target = os.environ["ARSWARM_TARGET_ENV"]
python = base_python()
subprocess.run([python, "-m", "venv", "--without-pip", target], check=True)
log = os.environ.get("ARSWARM_MINI_SETUP_LOG")
if log:
    with open(log, "a") as f:
        f.write(f"{time.time():.3f} {target}\n")
print(f"prepared {target} from {python}")
