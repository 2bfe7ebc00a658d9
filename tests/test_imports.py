"""The shape of the package: no import circles, a configuration module that is a leaf, one module
that touches faster-whisper, the package's face, and nothing heavy loaded at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import speechqa

PACKAGE = Path(speechqa.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (both make a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def speechqa_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} - {"speechqa"}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert cycles(speechqa_graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_configuration_is_a_leaf():
    graph = speechqa_graph()
    assert graph["speechqa.config"] <= {"speechqa.errors", "speechqa.names", "speechqa.options"}
    assert graph["speechqa.options"] <= {"speechqa.errors", "speechqa.names", "speechqa.metrics"}
    assert graph["speechqa.names"] == set() and graph["speechqa.metrics"] <= {"speechqa.names"}


def test_measuring_reads_no_score_configuration():
    graph = speechqa_graph()
    assert not {"speechqa.derive", "speechqa.judge", "speechqa.call"} & graph["speechqa.measure"]
    source = (PACKAGE / "measure.py").read_text(encoding="utf-8")
    assert "ScoreConfig" not in source and ".score" not in source


def test_only_the_adapter_touches_faster_whisper():
    touching = sorted(
        module_name(p) for p in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] in ("faster_whisper", "ctranslate2") for m in imports_of(p))
    )
    assert touching == ["speechqa.whisper"]


def test_the_package_face():
    from speechqa import CallResult, Config, SpeechQAError, load_config, score_call
    from speechqa.call import CallResult as call_result
    from speechqa.errors import SpeechQAError as error

    assert (CallResult, SpeechQAError) == (call_result, error)
    assert isinstance(load_config(None), Config) and callable(score_call)
    assert {"score_call", "load_config", "Config", "CallResult", "SpeechQAError"} <= set(speechqa.__all__)


def loaded_after(statement: str) -> list[str]:
    code = (f"import sys; {statement}; "
            "print(' '.join(sorted(m for m in ('numpy', 'faster_whisper', 'ctranslate2', 'soundfile', 'pyarrow') "
            "if m in sys.modules)))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_import_loads_nothing_heavy():
    # A batch worker imports speechqa.worker to cap its threads before numpy or CTranslate2 load.
    assert loaded_after("import speechqa, speechqa.worker, speechqa.config") == []
    assert not {"faster_whisper", "ctranslate2"} & set(loaded_after("import speechqa.asr, speechqa.call"))   # the model loads when used
