"""A command imports only what it uses: checking a scenario loads no engine libraries, and a
compiled pass imports numba only when it is first compiled (issue 15 item 1).

Each case runs in a fresh interpreter and reads ``sys.modules`` after the command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str, folder: Path) -> set[str]:
    """The top-level modules loaded after running ``code`` (as a file in ``folder``, so numba can
    cache what it compiles) in a fresh interpreter from the checkout."""
    code += "\nimport sys\nprint('MODULES:' + ','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    script = folder / "case.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES:"))
    return set(line.removeprefix("MODULES:").split(","))


def test_validate_imports_no_engine_figure_or_table_library(tmp_path: Path) -> None:
    loaded = _modules_after("from sim.cli.main import main\n"
                            "assert main(['validate', 'scenarios/sigtuna-resursjobb.yaml']) == 0", tmp_path)
    assert "pydantic" in loaded and "sim" in loaded  # it did load and check the scenario
    heavy = {"numpy", "numba", "mesa", "matplotlib", "pandas", "seaborn", "scipy", "pyarrow", "simpy"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_the_memory_guard_counts_the_bytes_the_arrays_take() -> None:
    """validate's memory check (no numpy) uses the same bytes per person as the arrays take."""
    from sim.engine.footprint import PERSON_DTYPES, person_bytes
    from sim.engine.population import Population, bytes_per_person

    assert person_bytes() == bytes_per_person()
    assert list(PERSON_DTYPES) == [f for f in Population.__dataclass_fields__]


def test_numba_is_imported_when_a_kernel_is_first_compiled(tmp_path: Path) -> None:
    """Importing the engine (and running a pass uncompiled) costs no numba; the first compiled
    call imports it and gives the same answer, also for a kernel calling a kernel and a helper."""
    code = """
import sys
import numpy as np
import sim.engine.state
from sim.accounts.jit import helper, kernel, run

@helper
def twice(x):
    return 2.0 * x

@kernel
def total(a):
    s = 0.0
    for v in a:
        s += twice(v)
    return s

@kernel
def total_plus_one(a):
    return total(a) + 1.0

a = np.arange(5.0)
assert 'numba' not in sys.modules
assert run(total, False, a) == 20.0 and 'numba' not in sys.modules
assert run(total_plus_one, True, a) == 21.0 and 'numba' in sys.modules
assert total_plus_one.signatures  # the dispatcher's attributes are the kernel's
"""
    assert "numba" in _modules_after(code, tmp_path)


def test_a_compiled_kernel_loads_no_scipy_and_blas_still_works_later(tmp_path: Path) -> None:
    """numba's first load asks for scipy's BLAS (importing scipy.linalg) only to choose how
    np.correlate is compiled: the engine's kernels load without it, and a kernel that does use
    BLAS (np.dot) afterwards still gets it."""
    code = """
import sys
import numpy as np
from sim.accounts.jit import kernel, run
from sim.engine.footprint import PERSON_DTYPES
from sim.engine.state import select

@kernel
def dot(a, b):
    return np.dot(a, b)

stage = np.array([0, 1, 2, 1], PERSON_DTYPES["stage"])
moved = np.array([False, False, False, True])
wanted = np.array([False, True, True])
assert list(run(select, True, stage, moved, wanted)) == [1, 2]
assert 'numba' in sys.modules and 'scipy.linalg' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)
assert run(dot, True, np.arange(3.0), np.arange(3.0)) == 5.0
assert 'scipy.linalg' in sys.modules
"""
    assert "numba" in _modules_after(code, tmp_path)


def _core_distributions() -> set[str]:
    """The distributions a core install (``pip install .``) brings: the project's dependencies and
    theirs, with the extras each names, as installed here (names canonical)."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with open(ROOT / "pyproject.toml", "rb") as fh:
        todo = [Requirement(r) for r in tomllib.load(fh)["project"]["dependencies"]]
    seen: set[str] = set()
    extras_seen: set[tuple[str, str]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        fresh = [e for e in req.extras if (name, e) not in extras_seen]
        if name in seen and not fresh:
            continue
        seen.add(name)
        extras_seen.update((name, e) for e in req.extras)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                todo.append(sub)
    return seen


def _imported_by_almsim() -> set[str]:
    """The top-level names of the libraries almsim's own modules import (anywhere in them)."""
    import ast

    out: set[str] = set()
    for path in (ROOT / "sim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                out.add(node.module.split(".")[0])
    return out - set(sys.stdlib_module_names) - {"sim"}


def test_the_main_job_imports_only_what_a_core_install_brings(tmp_path: Path) -> None:
    """Every library almsim imports for a comparison and its report (the figures' cache folder in
    the user's cache, as the command has it) comes with ``pip install .``: the test environment
    has every extra, so a library only an extra brings (platformdirs came with the notebooks'
    jupyter_core) would otherwise fail only on a user's core install."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from factories import PROGRAMME, scenario
from sim.analysis.comparison import compare
from sim.present.report import render_report
small = {{"population": {{"cohort": {{"size": 60}}}}, "horizon_months": 24}}
c = compare(scenario([], name="base", **small), [scenario([PROGRAMME], name="coach", **small)], seed=3,
            replications=2)
render_report(c)
render_report(c)
"""
    loaded = _modules_after(code, tmp_path) & _imported_by_almsim()  # (not libraries' optional imports)
    providers = metadata.packages_distributions()
    core = _core_distributions()
    outside = sorted(f"{m} ({', '.join(providers[m])})" for m in loaded
                     if not any(canonicalize_name(d) in core for d in providers.get(m, [m])))
    assert not outside, f"imported by the main job but not brought by a core install: {outside}"
