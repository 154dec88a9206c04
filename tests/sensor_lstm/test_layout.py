"""The code's shape: a library package without import circles and with short functions, and
spark_jobs/ holding the six applications and nothing else."""

import ast
from pathlib import Path

from sensor_lstm.names import JOBS

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "sensor_lstm"
LONGEST_FUNCTION = 60  # lines


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports(path: Path, modules: set[str]) -> set[str]:
    """The library modules ``path`` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return (found & modules) - {module_name(path)}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import path that leads back to where it started, as the modules on it."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in path:
                found.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    for module in sorted(graph):
        visit(module, [module])
    return found


def test_the_library_has_no_import_circle_not_even_through_an_import_inside_a_function():
    paths = {module_name(path): path for path in LIBRARY.rglob("*.py")}
    graph = {module: imports(path, set(paths)) for module, path in paths.items()}
    assert circles(graph) == []
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]  # the check finds one


def test_library_functions_are_short():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in LIBRARY.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]
    assert long == []


def test_spark_jobs_holds_the_six_applications_and_nothing_else():
    assert sorted(path.stem for path in (ROOT / "spark_jobs").glob("*.py")) == sorted([*JOBS, "__init__"])
