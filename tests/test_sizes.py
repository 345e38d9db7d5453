"""Sizes (issue item 8): no file in `jaxgen/algorithms/` over 300 lines, no class in `jaxgen/` over
150 lines, no function or method in `jaxgen/` over 60 lines (tests and scripts aside).

A class or function spans `end_lineno - lineno + 1` lines of its `ast` node: from its `def` or
`class` line (decorators excluded) to its last line, docstring, comments and blank lines inside
included; nested functions and methods are measured on their own as well. Only `ast`, no jax.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jaxgen"
MAX_ALGORITHM_FILE_LINES = 300
MAX_CLASS_LINES = 150
MAX_FUNCTION_LINES = 60


def _span(node: ast.AST) -> int:
  return node.end_lineno - node.lineno + 1


def _definitions(source: str, kinds: tuple[type, ...]) -> list[tuple[str, int, int]]:
  """(qualified name, first line, size in lines) of every definition of `kinds` in `source`."""
  found = []

  def visit(node: ast.AST, prefix: str) -> None:
    for child in ast.iter_child_nodes(node):
      name = prefix
      if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        name = f"{prefix}{child.name}."
        if isinstance(child, kinds):
          found.append((name[:-1], child.lineno, _span(child)))
      visit(child, name)

  visit(ast.parse(source), "")
  return found


def _offenders(kinds: tuple[type, ...], limit: int) -> list[str]:
  offenders = []
  for path in sorted(PACKAGE.rglob("*.py")):
    where = path.relative_to(PACKAGE.parent)
    for name, line, size in _definitions(path.read_text(), kinds):
      if size > limit:
        offenders.append(f"{where}:{line} {name}: {size} lines (limit {limit})")
  return offenders


def _fail_if_any(offenders: list[str], what: str) -> None:
  """Fails with one line per offender (no traceback: the list is the message)."""
  if offenders:
    pytest.fail(f"{len(offenders)} {what} over the limit:\n  " + "\n  ".join(offenders), False)


def test_the_size_measure_excludes_decorators_and_counts_nested_definitions():
  source = (
    "import functools\n"  # 1
    "@functools.cache\n"  # 2
    "def f():\n"  # 3
    "  def g():\n"  # 4
    "    return 1\n"  # 5
    "\n"  # 6
    "  return g\n"  # 7
    "class A:\n"  # 8
    "  @property\n"  # 9
    "  def m(self):\n"  # 10
    "    return 2\n"  # 11
  )
  functions = (ast.FunctionDef, ast.AsyncFunctionDef)
  assert _definitions(source, functions) == [("f", 3, 5), ("f.g", 4, 2), ("A.m", 10, 2)]
  assert _definitions(source, (ast.ClassDef,)) == [("A", 8, 4)]


def test_no_algorithm_file_is_over_300_lines():
  offenders = []
  for path in sorted((PACKAGE / "algorithms").glob("*.py")):
    size = len(path.read_text().splitlines())
    if size > MAX_ALGORITHM_FILE_LINES:
      where = path.relative_to(PACKAGE.parent)
      offenders.append(f"{where}: {size} lines (limit {MAX_ALGORITHM_FILE_LINES})")
  _fail_if_any(offenders, "files in jaxgen/algorithms/")


@pytest.mark.parametrize(
  "kinds, limit, what",
  [
    ((ast.ClassDef,), MAX_CLASS_LINES, "classes"),
    ((ast.FunctionDef, ast.AsyncFunctionDef), MAX_FUNCTION_LINES, "functions and methods"),
  ],
  ids=["classes", "functions"],
)
def test_no_class_or_function_in_jaxgen_is_over_its_limit(kinds, limit, what):
  _fail_if_any(_offenders(kinds, limit), what)
