"""The gallery's examples are well-formed (running them is the docs build's job).

``sphinx-build`` runs every ``examples/plot_*.py`` (minutes in all), too slow for the
test suite; here we check, in well under a second, what the gallery needs of each one:
it compiles, its docstring starts with an underlined title, it draws with matplotlib
and it measures and prints its timings.
"""

import ast
import re
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))

def test_gallery_has_examples():
    assert EXAMPLES, "examples/ has no plot_*.py"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_gallery_ready(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))  # compiles

    docstring = ast.get_docstring(tree, clean=False) or ""
    assert re.match(r"\s*(=+\n)?[^\n]+\n=+\n", docstring), (
        f"{path.name}: the module docstring must start with a title underlined by '='"
    )

    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    modules = {node.module for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module}
    assert "matplotlib.pyplot" in imported or "matplotlib" in modules or \
        "pyplot" in imported, f"{path.name}: draws no figure (no matplotlib.pyplot)"
    assert re.search(r"\b(subplots|figure|imshow|plot|scatter|hist)\(", source), (
        f"{path.name}: no plotting call"
    )

    assert "print(" in source, f"{path.name}: prints nothing"

    # Examples run on bundled data only: nothing fetched from the network.
    assert not re.search(r"\bfetch_\w+\(|urlopen|requests\.", source), (
        f"{path.name}: downloads data"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_prints_its_timings(path):
    source = path.read_text()
    assert re.search(r"perf_counter|time\.time\(|process_time|timeit", source), (
        f"{path.name}: measures no time"
    )
    assert re.search(r"print\(.*(time|[0-9]s\b|\bs\b|seconds|\{t)", source), (
        f"{path.name}: prints no timing"
    )
