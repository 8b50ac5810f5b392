"""Committed notebooks are thin, stripped, parameterised reports (and stay papermill-ready)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PRE_COMMIT = REPO / ".pre-commit-config.yaml"


def hygiene_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything that makes a notebook unfit to commit, as readable lines."""
    problems = []
    if not nb.metadata.get("kernelspec", {}).get("name"):
        problems.append("metadata.kernelspec is missing (papermill cannot pick a kernel)")
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"needs exactly one cell tagged 'parameters', found {len(tagged)}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs (run nbstripout)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count (run nbstripout)")
        try:
            tree = ast.parse("\n".join(
                line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
            ))  # fmt: skip
        except SyntaxError as err:
            problems.append(f"cell {i} does not parse: {err.msg}")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
                problems.append(f"cell {i} defines {kind} {node.name} (move it into sgreview/)")
    if tagged:
        for node in ast.parse(nb.cells[tagged[0]].source).body:
            if not (isinstance(node, ast.Assign | ast.AnnAssign) and _literal(node.value)):
                problems.append("the parameters cell must hold only NAME = literal lines")
                break
    return problems


def _literal(node: ast.AST | None) -> bool:
    try:
        ast.literal_eval(node)  # type: ignore[arg-type]
    except (ValueError, TypeError, SyntaxError):
        return False
    return True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_stripped_and_parameterised(path: Path) -> None:
    problems = hygiene_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems)


def _dirty_notebook() -> nbformat.NotebookNode:
    params = nbformat.v4.new_code_cell("locality = None", execution_count=1)
    params.metadata["tags"] = ["parameters"]
    params.metadata["papermill"] = {"duration": 0.1}
    body = nbformat.v4.new_code_cell("def helper():\n    pass\nprint(1)", execution_count=2)
    body.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    body.metadata["tags"] = ["debug"]
    return nbformat.v4.new_notebook(
        cells=[params, body],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}, "papermill": {"version": "2.7.0"}},
    )  # fmt: skip


def test_hygiene_check_catches_outputs_counts_definitions_and_missing_tags() -> None:
    nb = _dirty_notebook()
    problems = hygiene_problems(nb)
    assert "cell 1 has outputs (run nbstripout)" in problems
    assert "cell 0 has an execution count (run nbstripout)" in problems
    assert "cell 1 defines def helper (move it into sgreview/)" in problems
    nb.cells[0].metadata["tags"] = []
    del nb.metadata["kernelspec"]
    problems = hygiene_problems(nb)
    assert "needs exactly one cell tagged 'parameters', found 0" in problems
    assert any("kernelspec is missing" in p for p in problems)


def _nbstripout_args() -> list[str]:
    config = yaml.safe_load(PRE_COMMIT.read_text(encoding="utf-8"))
    for repo in config["repos"]:
        for hook in repo["hooks"]:
            if hook["id"] == "nbstripout":
                return [str(a) for a in hook.get("args", [])]
    raise AssertionError("no nbstripout hook in .pre-commit-config.yaml")


def test_nbstripout_settings_strip_outputs_but_keep_kernelspec_tags_and_ids(tmp_path: Path) -> None:
    if not PRE_COMMIT.is_file():
        pytest.skip("no .pre-commit-config.yaml")
    exe = Path(sys.executable).with_name("nbstripout")
    if not exe.exists():
        pytest.skip("nbstripout is not installed")
    path = tmp_path / "dirty.ipynb"
    nb = _dirty_notebook()
    ids = [c.id for c in nb.cells]
    nbformat.write(nb, path)
    subprocess.run([str(exe), *_nbstripout_args(), str(path)], check=True,
                   capture_output=True)  # fmt: skip
    clean = nbformat.read(path, as_version=4)
    assert clean.metadata["kernelspec"]["name"] == "python3"
    assert [c.metadata.get("tags") for c in clean.cells] == [["parameters"], ["debug"]]
    assert [c.id for c in clean.cells] == ids
    assert all(not c.outputs and c.execution_count is None for c in clean.cells)
    assert "papermill" not in clean.metadata
    assert "papermill" not in clean.cells[0].metadata
