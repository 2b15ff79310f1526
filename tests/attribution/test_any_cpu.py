"""The same journeys give the same credits on every CPU: no BLAS kernel's order of additions reaches them.

OpenBLAS picks a kernel for the CPU it runs on (``OPENBLAS_CORETYPE`` forces one); AVX2 and AVX-512 kernels
add in different orders, and a matrix product or a multi-column sparse solve gave different last bits on
different machines. Two old kernels that every x86-64 CPU runs stand in for two machines here.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

SCRIPT = """
import json
from datetime import date

import smarketing as sm
from smarketing.attribution import BUILTIN_MODELS, Journeys
from smarketing.datasets import synthetic

plan = sm.load_plan("examples/plan.yaml")
data = synthetic(plan, seed=11, n_leads=600)
fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
journeys = Journeys.from_touchpoints(data, fx=fx, currency="EUR")
for model in sorted(set(BUILTIN_MODELS) - {"custom"}):
    print(model, json.dumps(sm.attribute(journeys, model=model).to_dict(), default=str, sort_keys=True))
"""


def _credits(kernel: str) -> str:
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS x86-64 kernel names")
def test_credits_do_not_depend_on_the_blas_kernel() -> None:
    prescott, sandybridge = _credits("Prescott"), _credits("Sandybridge")
    assert prescott.count("\n") == 11
    assert prescott == sandybridge
