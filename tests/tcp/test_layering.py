"""The engine's house rule (DESIGN.md): ``tcp/`` does no I/O, reads no clock, starts no
thread and imports nothing from the layers above ``wire/``."""

from __future__ import annotations

import ast
from pathlib import Path

import tcpkit.tcp

ALLOWED_STDLIB = {"__future__", "bisect", "collections", "dataclasses", "enum", "errno",
                  "hashlib", "os", "random", "typing"}
FORBIDDEN_NAMES = {"time", "socket", "threading", "asyncio", "select", "selectors",
                   "subprocess", "datetime"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_tcp_imports_only_itself_wire_and_pure_stdlib() -> None:
    root = Path(tcpkit.tcp.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 15
    for path in files:
        for module in imports(path):
            top = module.split(".")[0]
            if top == "tcpkit":
                assert module.startswith(("tcpkit.tcp", "tcpkit.wire")), (path, module)
            else:
                assert top in ALLOWED_STDLIB and top not in FORBIDDEN_NAMES, (path, module)


def test_os_is_used_only_for_errno_text_and_host_secrets() -> None:
    root = Path(tcpkit.tcp.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        for use in ("os.open", "os.read", "os.write", "os.system", "os.environ",
                    "os.getpid", "os.time"):
            assert use not in text, (path, use)
