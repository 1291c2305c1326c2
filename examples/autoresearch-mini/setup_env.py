"""
Prepares the target's environment once per worker (arswarm's target.setup),
the way `uv sync --frozen` fills UV_PROJECT_ENVIRONMENT for the real
autoresearch: a virtual environment (standard library only, no pip) at
$ARSWARM_TARGET_ENV. When ARSWARM_MINI_SETUP_LOG names a file, one line is
appended per run, so a test can count how often the setup ran.
"""

import os
import sys
import time
import venv

target = os.environ["ARSWARM_TARGET_ENV"]
venv.create(target, with_pip=False, symlinks=True)
log = os.environ.get("ARSWARM_MINI_SETUP_LOG")
if log:
    with open(log, "a") as f:
        f.write(f"{time.time():.3f} {target}\n")
print(f"prepared {target} with {sys.executable}")
