"""The README's promises: its Python example runs, and the commands it names exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run([sys.executable, "-m", "tcpkit", "demo", "--pcap",
                    str(tmp_path / "trace.pcap")], check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    wire, engine, simulation = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict[str, object] = {}
    exec(compile(wire, "README.md", "exec"), namespace)
    assert "segment" in namespace
    namespace = {}
    exec(compile(engine, "README.md", "exec"), namespace)
    pair = namespace["pair"]
    assert [c.state.name for c in (pair.a, pair.b)] == ["CLOSED", "CLOSED"]  # type: ignore[attr-defined]
    namespace = {}
    exec(compile(simulation, "README.md", "exec"), namespace)
    seen = namespace["seen"]
    assert seen["errno"] == "ETIMEDOUT"  # type: ignore[index]
    assert 7200 + 9 * 75 <= seen["after"] <= 8900  # type: ignore[index,operator]
    assert (tmp_path / "keepalive.pcap").stat().st_size > 24


def test_make_targets_named_in_the_readme_exist() -> None:
    makefile = (README.parent / "Makefile").read_text()
    for target in re.findall(r"`make (\w+)`", README.read_text()):
        assert re.search(rf"^{target}:", makefile, re.M), target
