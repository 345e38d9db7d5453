"""The package reads top-down: nothing below the run imports it.

scripts and `jaxgen.theory` -> `jaxgen.run` (the loop's machinery) and `jaxgen.evaluators` ->
`jaxgen.algorithms` -> metrics, networks, configs -> data, losses, optimizers, stabilisers. An
import inside a function counts as much as one at the top of a module.
"""

import ast
from pathlib import Path

import pytest

JAXGEN = Path(__file__).resolve().parents[1] / "jaxgen"
BELOW_THE_RUN = ["algorithms", "nn", "data", "losses", "metrics", "configs"]
BELOW_THE_RUN += ["optim.py", "stabilisers.py", "options.py", "errors.py"]
ABOVE = ("jaxgen.run", "jaxgen.evaluators", "jaxgen.theory", "jaxgen.catalogue")


def _imports(path: Path) -> list[str]:
  """Every module `path` imports, `from jaxgen import x` as `jaxgen.x`."""
  names = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
  return names


def _files(entry: str) -> list[Path]:
  path = JAXGEN / entry
  return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("entry", BELOW_THE_RUN)
def test_nothing_below_the_run_imports_it(entry):
  offenders = [
    f"{path.relative_to(JAXGEN.parent)} imports {name}"
    for path in _files(entry)
    for name in _imports(path)
    if name.startswith(ABOVE)
  ]
  assert not offenders, "\n".join(offenders)


def test_the_check_sees_a_violation(tmp_path):
  module = tmp_path / "m.py"
  module.write_text("def f():\n  from jaxgen.run import train\n")
  assert "jaxgen.run.train" in _imports(module)
