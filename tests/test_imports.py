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


def literal_collection(node: ast.expr):
    """The value of a literal tuple, list or set, or of tuple(...)/list(...)/set(...)/frozenset(...)
    of one; None for anything else (a name, a comprehension, a starred name)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("tuple", "list", "set", "frozenset") and len(node.args) == 1 and not node.keywords):
        node = node.args[0]
    if not isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def vocabulary_copies(source: str) -> list[tuple[str, str]]:
    """(constant, vocabulary) for each module-level constant in `source` that spells one of the
    closed vocabularies of speechqa.names again, in any order."""
    from speechqa import names

    vocabularies = {name: set(getattr(names, name)) for name in ("PARTIES", "CHANNELS", "LANGUAGES", "ASR_LANGUAGES")}
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        spelled = literal_collection(value)
        if spelled is None:
            continue
        for vocabulary, words in vocabularies.items():
            if set(spelled) == words:
                found += [(ast.unparse(target), vocabulary) for target in targets]
    return found


def test_the_vocabulary_finder_finds_copies():
    source = 'A = ("caller", "agent")\nB: frozenset[str] = frozenset({"en", "ru"})\nC = ["left", "right"]\nD = ("agent", "x")\nE = (*X, "auto")\n'
    assert vocabulary_copies(source) == [("A", "PARTIES"), ("B", "LANGUAGES"), ("C", "CHANNELS")]


def test_each_closed_vocabulary_is_spelled_once():
    # A second spelling of PARTIES, CHANNELS or LANGUAGES drifts from the first unseen; take
    # them from speechqa.names, where a misspelt one is a NameError.
    copies = {
        module_name(path): found
        for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "names.py"
        for found in [vocabulary_copies(path.read_text(encoding="utf-8"))] if found
    }
    assert copies == {}, f"import these from speechqa.names instead: {copies}"
