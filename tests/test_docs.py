"""The documentation: the site builds strictly, the README stays an overview, and no link in the
README, the changelog or the docs leaves the repository."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 200
# The README's test command; the CI entry point (.ci/run) runs the same line.
TEST_COMMAND = (
  'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && '
  ".venv/bin/python -m pytest -q -n 2"
)

FENCE = re.compile(r"^( {0,8})(```|~~~).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
INLINE_LINK = re.compile(
  r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files() -> list[Path]:
  """The README, the changelog and every page under docs/."""
  files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
  return [path for path in files if path.is_file()]


def link_targets(text: str) -> list[str]:
  """The targets of the markdown (inline and reference) and HTML links of `text`, code and
  comments left out."""
  for pattern in (FENCE, HTML_COMMENT, CODE_SPAN):
    text = pattern.sub("", text)
  return [
    match.group(1)
    for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK)
    for match in pattern.finditer(text)
  ]


def outside_links(path: Path) -> list[str]:
  """Links of `path` that point at a file outside the repository, or at one that does not exist;
  web links (https://...) and anchors within the page are fine."""
  bad = []
  for target in link_targets(path.read_text(encoding="utf-8")):
    if target.startswith("#"):
      continue
    if SCHEME.match(target):
      if target.split(":", 1)[0].lower() in ("http", "https", "mailto"):
        continue
      bad.append(f"{target} (a {target.split(':', 1)[0]}: link)")
      continue
    if target.startswith(("/", "\\", "~")):
      bad.append(f"{target} (an absolute path)")
      continue
    relative = target.split("#", 1)[0].split("?", 1)[0]
    resolved = (path.parent / relative).resolve()
    if not resolved.is_relative_to(ROOT):
      bad.append(f"{target} (outside the repository)")
    elif not resolved.exists():
      bad.append(f"{target} (no such file)")
  return bad


def test_link_checker_sees_what_it_must():
  text = (
    "[a](docs/x.md) ![b](../shared/y.png) [c][ref] `[not](code.md)`\n"
    "[ref]: ../../etc/z.md\n"
    "```\n[fenced](no.md)\n```\n"
    '<img src="docs/p.png"> <!-- [commented](no.md) --> [web](https://arxiv.org/abs/1406.2661)\n'
  )
  assert sorted(link_targets(text)) == sorted(
    [
      "docs/x.md",
      "../shared/y.png",
      "../../etc/z.md",
      "docs/p.png",
      "https://arxiv.org/abs/1406.2661",
    ]
  )


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_link_leaves_the_repository(path):
  assert outside_links(path) == [], (
    f"{path.relative_to(ROOT)} links outside the repository or to a missing file"
  )


def test_readme_is_an_overview():
  lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
  assert len(lines) <= README_MAX_LINES, (
    f"README.md has {len(lines)} lines; keep it at most {README_MAX_LINES} and move the detail "
    "into docs/ (the user guide, the algorithm and results pages) or CHANGELOG.md"
  )
  assert TEST_COMMAND in lines, "README.md must keep the test command line verbatim"


def test_docs_build_strictly(tmp_path):
  pytest.importorskip(
    "mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]' (the test extra has it)"
  )
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  result = subprocess.run(
    [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
  assert (tmp_path / "site" / "index.html").is_file()
  assert (tmp_path / "site" / "api" / "run" / "index.html").is_file()
