"""explorer/ is a UI-free library: it never imports streamlit."""

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "explorer"


def test_explorer_never_imports_streamlit():
    offenders = []
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []
