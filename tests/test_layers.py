"""The rooms of the code and the one direction data flows between them, read from the import statements.

data -> model -> training (with loss) -> calibrators -> predict's maps -> evaluate (the scoring engine, which
reads maps from disk) -> report. Training and inference never import the scoring engine or the reports;
the formulas in metrics/ read no files and need no torch; and no module imports one that imports it back.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("calibrators", "common", "data", "evaluate", "loss", "metrics", "model", "report", "training")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project but the tests and benchmarks, by dotted name."""
    packages = (path for package in PACKAGES for path in (PROJECT_ROOT / package).glob("*.py"))
    paths = [*PROJECT_ROOT.glob("*.py"), *packages]
    return {module_name(path): path for path in paths}


MODULES = project_modules()
ROOTS = {name.split(".")[0] for name in MODULES}


def imported(nodes: list[ast.AST]) -> set[str]:
    """The project modules (dotted) and third-party packages (their root) that import statements name."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name if alias.name in MODULES else alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module if node.module in MODULES else node.module.split(".")[0])
            # `from metrics import calibration` imports a module; `from loss.base import Objective` does not.
            found |= {f"{node.module}.{alias.name}" for alias in node.names} & MODULES.keys()
    return {name for name in found if name in MODULES or name not in ROOTS}


def imports_of(path: Path) -> set[str]:
    """What `path` imports anywhere: at its top or in a function."""
    return imported(list(ast.walk(ast.parse(path.read_text()))))


def top_imports_of(path: Path) -> set[str]:
    """What `path` imports when it is imported: its top-level statements (and those under `if`, but for
    `if TYPE_CHECKING:`, which only type checkers read)."""
    def runs(statement: ast.stmt) -> bool:
        checking = isinstance(statement, ast.If) and getattr(statement.test, "id", "") == "TYPE_CHECKING"
        return not checking and not isinstance(statement, (ast.FunctionDef, ast.ClassDef))

    tree = ast.parse(path.read_text())
    nodes = [node for statement in tree.body if runs(statement) for node in ast.walk(statement)]
    return imported(nodes)


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def in_room(name: str, rooms: tuple[str, ...]) -> bool:
    return any(name == room or name.startswith(f"{room}.") for room in rooms)


def test_no_module_imports_one_that_imports_it_back():
    visiting, done = set(), set()

    def visit(name: str, trail: list[str]) -> None:
        if name in done or name not in GRAPH:
            return
        assert name not in visiting, " -> ".join([*trail, name])
        visiting.add(name)
        for other in GRAPH[name]:
            visit(other, [*trail, name])
        visiting.discard(name)
        done.add(name)

    for name in GRAPH:
        visit(name, [])


@pytest.mark.parametrize("room, forbidden", [
    # Training and inference never import the scoring engine or the reports.
    (("training", "predict", "calibrators", "loss", "model", "data"), ("evaluate", "report", "pipeline")),
    # The formulas read no files (data/ and evaluate/ do), need no torch and know nothing of the stages above.
    (("metrics",), ("torch", "data", "evaluate", "report", "predict", "training", "pipeline", "PIL")),
    # The scoring engine reads maps from disk: no torch, no network, no training.
    (("evaluate",), ("torch", "model", "loss", "training", "predict", "calibrators", "pipeline")),
    # Reports draw what the engine computed; the engine calls them, never the other way round.
    (("report",), ("torch", "evaluate", "training", "predict", "pipeline")),
])
def test_each_room_imports_only_from_below(room, forbidden):
    offending = sorted(f"{name} imports {other}" for name, others in GRAPH.items() if in_room(name, room)
                       for other in others if in_room(other, forbidden))
    assert not offending, offending


def test_what_the_command_line_reads_before_torch_imports_nothing_heavy_when_imported():
    # main_ASLP.py checks its command line, and python -m evaluate answers --help, with these alone.
    light = ("common", "common.configurator", "common.settings", "common.methods", "common.layout", "protocol", "common.errors",
             "main_ASLP", "evaluate")
    heavy = ("torch", "numpy", "cv2", "scipy", "matplotlib", "pipeline", "training", "report", "metrics")
    offending = sorted(f"{name} imports {other}" for name in light
                       for other in top_imports_of(MODULES[name]) if in_room(other, heavy))
    assert not offending, offending


def test_no_room_holds_more_than_a_fifth_of_the_code():
    lines = {path: len(path.read_text().splitlines()) for path in MODULES.values()}
    total = sum(lines.values())
    rooms = {name: sum(n for path, n in lines.items() if path.parent == PROJECT_ROOT / name) for name in PACKAGES}
    rooms |= {path.name: n for path, n in lines.items() if path.parent == PROJECT_ROOT}
    assert max(rooms.values()) <= total / 5, sorted(rooms.items(), key=lambda item: -item[1])[:3]
