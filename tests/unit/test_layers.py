"""Import layering of git_datavc, checked on the source with `ast`:

- core modules (everything but `main.py` and `commands/`) never import the CLI layer;
- only `git.py` talks to git: it alone imports pygit2 or starts processes
  (`commands/demo.py` may run processes too: it drives a sample repository; so may
  `commands/help.py`: it runs `man`; and `fsmonitor.py`: it runs `watchman -j`);
- what git's hooks and filters load at start-up imports no heavy module at top level.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import git_datavc

PACKAGE = Path(git_datavc.__file__).parent
HEAVY = {"yaml", "pygit2", "sqlite3", "boto3", "botocore"}
PROCESS_ALLOWED = {"git_datavc.git", "git_datavc.commands.demo", "git_datavc.commands.help",
                   "git_datavc.fsmonitor"}
PYGIT2_ALLOWED = {"git_datavc.git"}
FAST_ENTRIES = ["git_datavc.main", "git_datavc.commands.hook",
                "git_datavc.commands.filter_process"]
OS_PROCESS_CALLS = ("system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp",
                    "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
                    "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                    "spawnve", "spawnvp", "spawnvpe")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def parse(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"), str(MODULES[name]))


def resolve(name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".")
    drop = node.level - 1 if is_package(name) else node.level
    base = base[:len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def imported(name: str, node: ast.AST) -> list[str]:
    """Fully qualified names an import statement loads (submodules included)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = resolve(name, node)
        return [base] + [f"{base}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Call):  # importlib.import_module("x") / __import__("x")
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def all_imports(name: str) -> list[str]:
    return [n for node in ast.walk(parse(name)) for n in imported(name, node)]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_level_imports(name: str) -> list[str]:
    """Imports run when the module is imported: not inside functions or TYPE_CHECKING."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.orelse:
                visit(stmt)
            return
        found.extend(imported(name, node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(parse(name))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def is_core(name: str) -> bool:
    return not (name == "git_datavc.main" or name.startswith("git_datavc.commands"))


def test_the_package_was_found() -> None:
    for expected in ("git_datavc", "git_datavc.main", "git_datavc.git", "git_datavc.cache",
                     "git_datavc.commands.hook", "git_datavc.commands.filter_process"):
        assert expected in MODULES


def test_resolve_relative_imports() -> None:
    up = ast.parse("from ..cache import Cache").body[0]
    assert isinstance(up, ast.ImportFrom)
    assert resolve("git_datavc.commands.hook", up) == "git_datavc.cache"
    here = ast.parse("from . import git").body[0]
    assert isinstance(here, ast.ImportFrom)
    assert resolve("git_datavc.config", here) == "git_datavc"
    assert resolve("git_datavc", here) == "git_datavc"
    assert resolve("git_datavc.commands", here) == "git_datavc.commands"


@pytest.mark.parametrize("name", [n for n in MODULES if is_core(n)])
def test_core_never_imports_the_cli_layer(name: str) -> None:
    bad = [m for m in all_imports(name)
           if m == "git_datavc.main" or m.startswith(("git_datavc.main.", "git_datavc.commands"))]
    assert bad == [], f"{name} imports {bad}"


@pytest.mark.parametrize("name", [n for n in MODULES if n not in PROCESS_ALLOWED])
def test_only_git_module_starts_processes(name: str) -> None:
    tree = parse(name)
    # add.py forks worker processes of its own code (multiprocessing), never commands.
    forbidden = ("subprocess", "pty") if name == "git_datavc.add" else \
        ("subprocess", "pty", "multiprocessing")
    bad = [m for m in all_imports(name) if top(m) in forbidden]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in OS_PROCESS_CALLS \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            bad.append(f"os.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("create_subprocess_"):
            bad.append(node.attr)
    assert bad == [], f"{name} starts processes itself ({bad}); go through git_datavc.git"


@pytest.mark.parametrize("name", [n for n in MODULES if n not in PYGIT2_ALLOWED])
def test_only_git_module_imports_pygit2(name: str) -> None:
    assert [m for m in all_imports(name) if top(m) == "pygit2"] == []


def startup_closure(entry: str) -> set[str]:
    """git_datavc modules executed by `import entry`: its packages and top-level imports."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b first
            mod = ".".join(parts[:i])
            if mod in MODULES and mod not in seen:
                seen.add(mod)
                todo.extend(m for m in top_level_imports(mod) if top(m) == "git_datavc")
    return seen


@pytest.mark.parametrize("entry", FAST_ENTRIES)
def test_startup_path_imports_nothing_heavy_at_top_level(entry: str) -> None:
    closure = startup_closure(entry)
    assert entry in closure
    bad = {(mod, m) for mod in closure for m in top_level_imports(mod) if top(m) in HEAVY}
    assert bad == set(), f"importing {entry} loads heavy modules at top level: {sorted(bad)}"


def test_startup_closure_follows_imports() -> None:
    closure = startup_closure("git_datavc.commands.filter_process")
    assert {"git_datavc", "git_datavc.commands", "git_datavc.filters", "git_datavc.cache",
            "git_datavc.state"} <= closure


def test_startup_path_loads_nothing_heavy_at_run_time() -> None:
    """The same, measured: import the entry points in a fresh interpreter."""
    heavy = sorted(HEAVY | {"_sqlite3"})
    code = ("import sys\n"
            f"for m in {FAST_ENTRIES!r}: __import__(m)\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
