"""The experiment configs, one `get_config()` per file; `load` reads one by name or by path.

config = configs.load("gan_ring8")                 # a config of this folder, by name
config = configs.load("path/to/my_config.py")      # any config file
config = configs.load("path/to/my_config.py:7")    # get_config("7")
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

import ml_collections

from jaxgen import registry
from jaxgen.errors import ConfigError

FOLDER = Path(__file__).parent
_NOT_CONFIGS = ("__init__", "default")  # default.py is the base the others start from


def names() -> list[str]:
  """The configs shipped in jaxgen/configs, by name."""
  return sorted(p.stem for p in FOLDER.glob("*.py") if p.stem not in _NOT_CONFIGS)


def resolve(spec: str | os.PathLike) -> Path:
  """The config file that `spec` names: an existing file path, or a config name of this folder
  (`gan_ring8` or `gan_ring8.py`). A `ConfigError` says what exists when it names neither."""
  path = Path(spec)
  if path.is_file():
    return path
  if path.exists():
    raise ConfigError(f"--config {spec}: is a directory; give a config file, e.g. {_example()}.")
  name = path.name.removesuffix(".py")
  if str(spec) in (name, f"{name}.py") and name in names():
    return FOLDER / f"{name}.py"
  close = difflib.get_close_matches(name, names(), n=1)
  hint = f" Did you mean {_shown(FOLDER / f'{close[0]}.py')}?" if close else ""
  raise ConfigError(
    f"--config {spec}: no such config file, and not a config name.{hint} Config names: "
    f"{', '.join(names())}."
  )


def _shown(path: Path) -> str:
  """`path` relative to the working directory when it lies below it."""
  try:
    return str(path.relative_to(Path.cwd()))
  except ValueError:
    return str(path)


def _example() -> str:
  return _shown(FOLDER / "gan_ring8.py")


def load(spec) -> ml_collections.ConfigDict:
  """The config of `spec`: a ConfigDict (returned as it is), or a config name or file path with
  an optional `:arg` passed to its `get_config(arg)`."""
  if isinstance(spec, ml_collections.ConfigDict | ml_collections.FrozenConfigDict):
    registry.import_components(spec)
    return spec
  if not isinstance(spec, str | os.PathLike):
    raise ConfigError(
      f"A config is an ml_collections.ConfigDict, a config name (e.g. 'gan_ring8') or the path "
      f"of a config file; got a {type(spec).__name__}: {spec!r}."
    )
  text, argument = os.fspath(spec), None
  if not Path(text).exists() and ":" in text:
    text, argument = text.rsplit(":", 1)
  path = resolve(text)
  if path.parent == FOLDER:
    module = importlib.import_module(f"jaxgen.configs.{path.stem}")
  else:
    module = _load_file(path)
  get_config = getattr(module, "get_config", None)
  if not callable(get_config):
    raise ConfigError(f"--config {spec}: {path} defines no get_config(); a config file must.")
  config = get_config() if argument is None else get_config(argument)
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(
      f"--config {spec}: get_config() returned a {type(config).__name__}, not an "
      "ml_collections.ConfigDict."
    )
  registry.import_components(config)
  return config


def _load_file(path: Path):
  """The module of the config file `path`, loaded anew."""
  name = f"jaxgen_config_{abs(hash(str(path.absolute())))}"
  spec = importlib.util.spec_from_file_location(name, path)
  if spec is None or spec.loader is None:
    raise ConfigError(f"--config {path}: not a Python file.")
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module  # dataclasses and pickling look modules up by name
  spec.loader.exec_module(module)
  return module
