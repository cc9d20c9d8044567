"""The package's shape: imports flow one way along the data flow, and no module imports itself back.

Every ``import`` in ``sim/`` is read with :mod:`ast` (top-level, inside functions and under
``TYPE_CHECKING`` alike), so a cycle cannot hide in a function-level import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"
#: The sub-packages in data-flow order: each may import only from itself and those before it.
LAYERS = ("scenario", "accounts", "engine", "runs", "analysis", "calibration", "present", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SIM.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``sim`` modules that ``path`` imports, anywhere in the file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out.update(n for n in names if n in modules and n.startswith("sim."))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, mods) - {m} for m, p in mods.items()}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_is_in_a_layer() -> None:
    stray = [m for m in _modules() if m not in ("sim", "sim.__main__") and _layer(m) is None]
    assert not stray, f"modules outside the sub-packages {LAYERS}: {stray}"


def test_imports_flow_one_way() -> None:
    upward = [f"{m} imports {d}" for m, deps in _graph().items() for d in deps
              if _layer(m) is not None and _layer(d) is not None and _layer(d) > _layer(m)]
    assert not upward, "imports against the data flow:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ importing its own modules is not a cycle of the modules themselves.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_walk_finds_a_planted_cycle(tmp_path: Path) -> None:
    """The check can fail: two modules importing each other are caught."""
    mods = {"sim.a": tmp_path / "a.py", "sim.b": tmp_path / "b.py"}
    mods["sim.a"].write_text("def f():\n    from sim.b import g\n")
    mods["sim.b"].write_text("import sim.a\n")
    assert _imports(mods["sim.a"], mods) == {"sim.b"}
    assert _imports(mods["sim.b"], mods) == {"sim.a"}


@pytest.mark.parametrize("command", [["--help"], ["validate", "--help"], ["compare", "--help"]])
def test_commands_that_draw_nothing_do_not_import_figures_or_the_engine(command: list[str]) -> None:
    code = (f"import sys\nfrom sim.cli.main import main\nmain({command!r})\n"
            "heavy = [m for m in ('matplotlib', 'seaborn', 'scipy', 'solara', 'pyabc', 'dask', 'numba', 'pandas',"
            " 'mesa') if m in sys.modules]\nprint('HEAVY:' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SIM.parent, check=True)
    assert "HEAVY:\n" in out.stdout, out.stdout[out.stdout.find("HEAVY:"):]


#: Arrays of people that only moves write in place (``sim/engine/moves.py``): what the engine
#: keeps between sub-steps (stage bounds, each programme's participants and queue) is kept
#: until a move reports a change, so a write anywhere else would leave it stale, silently.
MOVED_ONLY = ("stage", "programme")
#: numpy methods that write an array in place.
_IN_PLACE = ("fill", "put", "sort", "itemset", "resize")


def _stage_writers(source: str) -> list[str]:
    """In-place writes of :data:`MOVED_ONLY` arrays in ``source``: ``x.stage[...] = ...`` (and
    ``stage[...] = ...`` of a kernel's argument), augmented ones, ``out=x.stage`` and
    ``x.stage.fill(...)``-style calls, as ``line: code``."""
    def named(node: ast.AST) -> bool:
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        return name in MOVED_ONLY

    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in _IN_PLACE and named(f.value):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
            found += [f"{node.lineno}: {ast.unparse(node)}" for k in node.keywords if k.arg == "out" and named(k.value)]
        for t in targets:
            for one in t.elts if isinstance(t, ast.Tuple) else [t]:
                if isinstance(one, ast.Subscript) and named(one.value):
                    found.append(f"{node.lineno}: {ast.unparse(one)} = ...")
    return found


def test_only_moves_write_stages_and_programme_tags() -> None:
    """"Moves are the only writers of stage" (docs/architecture.md), and of programme tags: no
    other module of the engine writes those arrays in place."""
    found = {str(p.relative_to(SIM)): w for p in (SIM / "engine").rglob("*.py")
             if p.name != "moves.py" and (w := _stage_writers(p.read_text(encoding="utf-8")))}
    assert not found, f"stage or programme tags written outside sim/engine/moves.py: {found}"
    assert _stage_writers((SIM / "engine" / "moves.py").read_text(encoding="utf-8"))  # (the check sees them)


def test_the_stage_check_finds_planted_writes() -> None:
    planted = ("def step(state, ids, stage):\n    state.pop.stage[ids] = 3\n    stage[0] += 1\n"
               "    np.add(a, b, out=state.pop.programme)\n    state.pop.programme.fill(-1)\n"
               "    a, state.pop.stage[ids] = 1, 2\n    state.pop.months_in_stage[ids] = 0\n")
    assert sorted(int(w.split(":")[0]) for w in _stage_writers(planted)) == [2, 3, 4, 5, 6]
