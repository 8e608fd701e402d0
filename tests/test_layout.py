"""The repository's layout rules, read from the source: jobs/ holds the command-line entry
points and nothing below it imports them; library code raises exceptions, only CLIs exit."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LIBRARY = ("model", "actors", "serve", "tuning")


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", LIBRARY)
def test_no_library_module_imports_the_jobs(folder):
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imported(p)
                                                  if n == "jobs" or n.startswith("jobs."))
                 for p in _modules(folder)}
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("folder", LIBRARY)
def test_library_code_raises_instead_of_exiting(folder):
    exits = []
    for path in _modules(folder):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            call = node.exc if isinstance(node, ast.Raise) else node
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name | ast.Attribute):
                name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr
                if name in ("SystemExit", "exit"):
                    exits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not exits


def test_the_frame_path_library_has_no_ray_in_it():
    assert not {str(p.relative_to(ROOT)) for p in _modules("model/frame_path")
                if any(n == "ray" or n.startswith("ray.") for n in _imported(p))}
