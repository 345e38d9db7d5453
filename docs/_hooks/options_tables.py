"""MkDocs hook: embeds sections of the generated `docs/options.md` into other pages.

A page writes, on a line of its own,

    <!-- options: Algorithms / gan -->

and the built page shows, in that place, the entry `gan` of the section of `docs/options.md` whose
title starts with "Algorithms" (its description and its table of keys, defaults and docs) — the
text `python -m jaxgen.catalogue --markdown` wrote from the component's declarations, so the tables
never go stale. On GitHub the marker is an invisible comment; pages put a link to `options.md`
beside it. A marker that names no entry stops the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- options: (?P<section>[^/]+?) / (?P<entry>[^ ]+) -->$", re.MULTILINE)
_entries: dict[tuple[str, str], str] = {}


def _parse(text: str) -> dict[tuple[str, str], str]:
  """(section title, entry name) -> the entry's body, from the catalogue's markdown."""
  entries, section, entry, body = {}, None, None, []

  def close():
    if section is not None and entry is not None:
      entries[section, entry] = "\n".join(body).strip()

  for line in text.splitlines():
    if line.startswith("## "):
      close()
      section, entry, body = line[3:].strip(), None, []
    elif line.startswith("### "):
      close()
      entry, body = line[4:].strip().strip("`"), []
    elif entry is not None:
      body.append(line)
  close()
  return entries


def on_config(config, **kwargs):
  _entries.clear()
  _entries.update(_parse((Path(config["docs_dir"]) / "options.md").read_text(encoding="utf-8")))
  return config


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
  def replace(match: re.Match) -> str:
    wanted, entry = match["section"].strip(), match["entry"]
    found = [
      body for (title, name), body in _entries.items() if title.startswith(wanted) and name == entry
    ]
    if len(found) != 1:
      raise PluginError(
        f"{page.file.src_path}: `{match[0]}` names {len(found)} entries of options.md; "
        f"sections: {sorted({title for title, _ in _entries})}"
      )
    return found[0]

  return MARKER.sub(replace, markdown)
