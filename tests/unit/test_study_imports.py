"""optuna lives in its own Lambda layer: nothing a core handler imports at import time loads it
(the sampler adapter is imported on first use, behind ``runtime.sampler``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit
CORE = ("functions.api.app", "functions.steps.handler", "runtime.workflows.steps.study", "runtime.services.studies",
        "runtime.reactions.studies", "runtime.sampler", "domain.studies.study")  # fmt: skip


def test_core_modules_do_not_import_optuna():
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print(sorted(m for m in sys.modules"
    code += " if m.split('.')[0] in ('optuna', 'cmaes', 'scipy', 'torch')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
