"""Every component jaxgen knows, with its options: `python -m jaxgen.catalogue [--markdown]`.

Read from the components' own declarations (nothing here lists a component): the algorithms'
`OPTIONS` and `PLAYERS` (`jaxgen.options`), the networks' registered classes and traits
(`jaxgen.nn.registry`), and the option signatures of data sets, optimizers, penalties,
reconstructions and priors (the blocks `jaxgen.run.overrides` checks). `docs/options.md` is this
command's `--markdown` output; a test fails when it is out of date.

    python -m jaxgen.catalogue                       # everything, as text
    python -m jaxgen.catalogue --markdown > docs/options.md
    python -m jaxgen.catalogue --imports=my_components.py   # with your own components
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Iterator

from jaxgen import algorithms, evaluators, losses, registry, stabilisers
from jaxgen.nn import registry as networks
from jaxgen.nn.traits import OUTPUTS
from jaxgen.options import REQUIRED, choices_of, declared
from jaxgen.run import overrides

__all__ = ["main", "sections"]

Row = tuple[str, str, str]  # option, default, what it is
Entry = tuple[str, str, list[Row]]  # name, one line about it, its options
Section = tuple[str, list[Entry]]


def _first_line(thing) -> str:
  doc = inspect.getdoc(thing) or ""
  return " ".join(doc.split("\n\n")[0].split())


def _show(value) -> str:
  if value is REQUIRED or value is inspect.Parameter.empty or value is dataclasses.MISSING:
    return "required"
  return repr(value)


def _algorithm_entries() -> list[Entry]:
  entries = []
  for name, cls in sorted(algorithms.ALGORITHMS.items()):
    players = ", ".join(f"{p} ({role})" for p, role in cls.PLAYERS.items())
    optional = f"; optional: {', '.join(cls.OPTIONAL_PLAYERS)}" if cls.OPTIONAL_PLAYERS else ""
    rows = []
    for option in declared(cls).values():
      choices = choices_of(option.choices)
      what = option.doc + (f"; one of {', '.join(map(str, choices))}" if choices else "")
      rows.append((f"algorithm.{option.name}", _show(option.default), what))
    about = _first_line(cls)
    if "module docstring" in about:  # the class defers to its module's account
      about = _first_line(inspect.getmodule(cls))
    evaluated = ", ".join(e.name for e in cls.EVALUATORS) or "none: the config names them"
    about += f" Players: {players}{optional}. Default evaluators: {evaluated}."
    entries.append((name, about, rows))
  return entries


def _network_entries(role: str) -> list[Entry]:
  entries = []
  for name in sorted(networks.NETWORKS[role]):
    declaration = networks.DECLARATIONS[role, name]
    traits = getattr(declaration.module, "traits", None)
    about = _first_line(declaration.module)
    if isinstance(traits, property):
      about += " Its traits depend on its options (jaxgen.nn.traits)."
    elif traits is not None:
      about += f" Output: {OUTPUTS[traits.output]}."
      if traits.mixes_samples:
        about += f" Mixes samples: {traits.mixes_samples}."
    rows = [(f"model.{role}.{k}", _show(v), "") for k, v in declaration.options().items()]
    entries.append((name, about, rows))
  return entries


def _block_entries(kind, prefix: str, about) -> list[Entry]:
  entries = []
  for name in kind.choices():
    options = kind.options(name) or {}
    rows = [(f"{prefix}.{k}", _show(v), "") for k, v in options.items()]
    entries.append((name, about(name), rows))
  return entries


def sections() -> Iterator[Section]:
  """(title, [(name, about, [(key, default, doc)])]) for every kind of component."""
  yield "Algorithms (`algorithm.name`)", _algorithm_entries()
  for role in networks.NETWORKS:
    yield f"Networks: {role} (`model.{role}.name`)", _network_entries(role)
  from jaxgen import data  # noqa: PLC0415

  yield (
    "Data sets (`data.name`)",
    _block_entries(
      overrides.block_kind("data set"), "data.options", lambda n: _first_line(data.DATASETS[n])
    ),
  )
  objectives = [
    (name, _objective_about(objective), [])
    for name, objective in sorted(losses.GAN_OBJECTIVES.items())
  ]
  yield "GAN objectives (`algorithm.loss`)", objectives
  yield (
    "Gradient penalties (`algorithm.penalty.name`)",
    _block_entries(overrides.block_kind("penalty"), "algorithm.penalty", _penalty_about),
  )
  fields = dataclasses.fields(stabilisers.Stabilisers)
  rows = [(f"algorithm.stabilisers.{f.name}", _show(f.default), "") for f in fields]
  yield "Stabilisers (`algorithm.stabilisers`)", [("stabilisers", _first_line(stabilisers), rows)]
  for label, prefix in (
    ("optimizer", "optimizer.<player>"),
    ("reconstruction", "algorithm.reconstruction"),
    ("latent prior", "algorithm.prior"),
  ):
    kind = overrides.block_kind(label)
    yield f"{label.capitalize()}s (`{prefix}.name`)", _block_entries(kind, prefix, lambda n: "")
  yield "Evaluators (`eval.evaluators`)", _evaluator_entries()


def _objective_about(objective) -> str:
  d_loss = _first_line(objective.discriminator_loss)
  return d_loss + (" G reads D(real) too." if objective.generator_needs_real else "")


def _penalty_about(name: str) -> str:
  from jaxgen.losses import penalties  # noqa: PLC0415

  return "no penalty" if name == "none" else _first_line(penalties.PENALTIES[name])


def _evaluator_entries() -> list[Entry]:
  entries = []
  for name, evaluator in sorted(evaluators.EVALUATORS.items()):
    rows = [(o.name, _show(o.default), o.doc) for o in declared(evaluator).values()]
    entries.append((name, _first_line(evaluator), rows))
  return entries


def as_text() -> str:
  lines = []
  for title, entries in sections():
    lines += [title, "=" * len(title)]
    for name, about, rows in entries:
      lines.append(f"  {name}: {about}".rstrip())
      lines += [
        f"      {key} = {default}" + (f"  ({doc})" if doc else "") for key, default, doc in rows
      ]
    lines.append("")
  return "\n".join(lines)


def as_markdown() -> str:
  lines = [
    "# Components and their options",
    "",
    "Generated by `python -m jaxgen.catalogue --markdown` from the components' declarations; do "
    "not edit by hand. Set an option with `--config.KEY=VALUE` (see docs/guide/configs.md).",
    "",
  ]
  for title, entries in sections():
    lines += [f"## {title}", ""]
    for name, about, rows in entries:
      lines += [f"### `{name}`", "", about, ""] if about else [f"### `{name}`", ""]
      if rows:
        lines += ["| key | default | |", "|---|---|---|"]
        cell = lambda text: text.replace("|", "\\|")
        lines += [f"| `{k}` | `{cell(d)}` | {cell(doc)} |" for k, d, doc in rows]
        lines.append("")
  return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> None:
  """Prints the catalogue, as text or with `--markdown` as `docs/options.md`; see the module."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--markdown", action="store_true", help="markdown (docs/options.md)")
  parser.add_argument("--imports", default="", help="comma-separated modules or .py paths")
  args = parser.parse_args(argv)
  registry.import_components({"imports": tuple(filter(None, args.imports.split(",")))})
  print(as_markdown() if args.markdown else as_text(), end="")


if __name__ == "__main__":
  main()
