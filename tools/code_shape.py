"""Print the shape of the package: modules, subpackages, longest functions, function-level imports.

Used to compare the layout before and after a restructuring: `python tools/code_shape.py`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def shape(root: Path) -> dict:
    modules = sorted(p for p in root.rglob("*.py") if "static" not in p.parts)
    packages = sorted({p.parent for p in modules if (p.parent / "__init__.py").exists()})
    functions, inner_imports = [], 0
    for path in modules:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{path.relative_to(root.parent)}:{node.name}"))
                inner_imports += sum(
                    isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node)
                )
    lines = {p: len(p.read_text().splitlines()) for p in modules}
    return {
        "modules": len(modules),
        "subpackages": len(packages) - 1,
        "lines": sum(lines.values()),
        "longest_module": max(lines.items(), key=lambda kv: kv[1]),
        "function_level_imports": inner_imports,
        "longest_functions": sorted(functions, reverse=True)[:5],
    }


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "musegen")
    for key, value in shape(root).items():
        print(f"{key}: {value}")
