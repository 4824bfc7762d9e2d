"""Import-direction check: layers may only depend downwards (see DESIGN.md §2).

``vipguard.proto`` is the pure core: besides itself it may import only the standard-library
modules listed in PROTO_ALLOWED (no sockets, clocks, files, processes, threads or logging).
``vipguard.rules`` (pure decision rules above the core) is held to the same allowlist and may use
the core besides itself. The simulator may use both and the standard library. Exit status 1
lists every offending import with its file and line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PROTO_ALLOWED = frozenset(
    {
        "__future__",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "hashlib",
        "hmac",
        "ipaddress",
        "itertools",
        "math",
        "operator",
        "struct",
        "typing",
    }
)
# The pure packages and the vipguard packages each may import (nothing else of vipguard).
PURE = {
    "vipguard.proto": ("vipguard.proto",),
    "vipguard.rules": ("vipguard.rules", "vipguard.proto"),
}
# What each layer must never import (besides the proto allowlist above).
FORBIDDEN = {
    "vipguard.sim": ("vipguard.agent", "vipguard.io", "vipguard.cli", "pyroute2", "click"),
    "vipguard.io": ("vipguard.agent", "vipguard.cli"),
    "vipguard.agent": ("vipguard.cli",),
    "vipguard.config": ("vipguard.agent", "vipguard.io", "vipguard.cli"),
}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, resolve(node, package)))
    return found


def resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def violation(module: str, imported: str) -> str | None:
    for package, allowed in PURE.items():
        if within(module, package):
            return pure_violation(package, allowed, imported)
    for layer, banned in FORBIDDEN.items():
        if within(module, layer):
            for name in banned:
                if within(imported, name):
                    return f"{layer} must not depend on {name}"
    return None


def pure_violation(package: str, allowed: tuple[str, ...], imported: str) -> str | None:
    if imported.split(".", maxsplit=1)[0] == "vipguard":
        if any(within(imported, name) for name in allowed):
            return None
        return f"{package} is pure: of vipguard it may import only {', '.join(allowed)}"
    if imported.split(".", maxsplit=1)[0] not in PROTO_ALLOWED:
        return f"{package} is pure: it may import only pure standard-library modules"
    return None


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def check(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "vipguard").rglob("*.py")):
        module = module_name(path, root)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, imported in imported_modules(path, package):
            reason = violation(module, imported)
            if reason:
                problems.append(f"{path.relative_to(root)}:{line}: imports {imported}: {reason}")
    return problems


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    problems = check(root)
    for problem in problems:
        print(problem)
    print(f"import check: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
