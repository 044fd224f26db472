"""dvc.yaml is the path contract: every stage's deps list exactly the modules it imports."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "rewardpipe"
# Deps a stage reads through a param rather than a cmd argument.
READ_VIA_PARAMS = {"data/raw": "prepare.path points into it"}


def module_file(name: str) -> Path | None:
    """The source file of a `rewardpipe...` module or package, None if it is not ours."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in `path` names (lazy imports inside functions too);
    `from a import b` names both `a` and, when it is a module, `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def closure(script: Path) -> set[Path]:
    """The files of our package a script imports, transitively, with every parent package."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
                file = module_file(".".join(parts[:i]))
                if file is not None and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _deps(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_are_exactly_the_modules_the_stage_imports(name):
    stage = stages()[name]
    script = REPO / "stages" / f"{name}.py"
    expected = {p.relative_to(REPO).as_posix() for p in closure(script)}
    listed = {d for d in _deps(stage) if d.startswith("src/")}
    assert not any((REPO / d).is_dir() for d in listed), "list modules, not folders"
    assert expected - listed == set(), f"{name}: imported but not a dep"
    assert listed - expected == set(), f"{name}: a dep it does not import"
    assert f"stages/{name}.py" in _deps(stage)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_cmd_passes_every_path_it_reads_or_writes(name):
    stage = stages()[name]
    words = shlex.split(stage["cmd"])
    assert words[:2] == ["python", f"stages/{name}.py"]
    args = dict(zip(words[2::2], words[3::2], strict=True))
    assert args["--params"] == "params.yaml"
    outs = [o if isinstance(o, str) else next(iter(o)) for o in stage.get("outs", [])]
    metrics = [m if isinstance(m, str) else next(iter(m)) for m in stage.get("metrics", [])]
    data_deps = [
        d
        for d in _deps(stage)
        if not d.startswith(("src/", "stages/")) and d not in READ_VIA_PARAMS
    ]
    paths = set(args.values())
    for path in outs + metrics + data_deps:
        assert path in paths or any(path.startswith(p.rstrip("/") + "/") for p in paths), (
            f"{name}: {path} is not passed in the cmd"
        )


def test_stage_scripts_have_no_path_defaults():
    for script in (REPO / "stages").glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                default = next((k.value for k in node.keywords if k.arg == "default"), None)
                assert not (isinstance(default, ast.Constant) and isinstance(default.value, str)), (
                    f"{script.name}: {ast.unparse(node)} has a default path"
                )


def test_closure_follows_lazy_imports_and_parent_packages(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("def f():\n    from rewardpipe.training import loop\n")
    files = {p.relative_to(SRC).as_posix() for p in closure(script)}
    assert {"rewardpipe/__init__.py", "rewardpipe/training/__init__.py"} <= files
    assert "rewardpipe/training/loop.py" in files and "rewardpipe/errors.py" in files


PIPELINES = sorted((REPO / "pipelines").glob("*/dvc.yaml"))


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.parent.name)
def test_optional_pipelines_deps_are_exactly_the_modules_their_stages_import(path):
    for name, stage in yaml.safe_load(path.read_text(encoding="utf-8"))["stages"].items():
        assert stage.get("wdir") == "../..", f"{path}: {name}: paths are from the repository root"
        expected = {p.relative_to(REPO).as_posix() for p in closure(REPO / "stages" / f"{name}.py")}
        listed = {d for d in _deps(stage) if d.startswith("src/")}
        assert expected - listed == set(), f"{name}: imported but not a dep"
        assert listed - expected == set(), f"{name}: a dep it does not import"
        words = shlex.split(stage["cmd"])
        assert words[:4] == ["python", f"stages/{name}.py", "--params", "params.yaml"]
