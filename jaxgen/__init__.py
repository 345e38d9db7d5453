"""jaxgen: generative models in JAX/Flax — GANs and their objectives, autoencoders, the optimizers
that train them and the metrics that judge them.

On the command line (`jaxgen.cli`; `jaxgen --help`):

    jaxgen train dcgan_digits --workdir=workdirs/dcgan_digits
    jaxgen sample workdirs/dcgan_digits -n 64 --out=grid.png

In Python:

    import jaxgen
    run, state = jaxgen.load("workdirs/dcgan_digits")   # the run and its latest checkpoint
    images = jaxgen.sample(run, state, 1000)            # uint8 [1000, 16, 16, 1] in [0, 255]
    jaxgen.metrics.fid(images, real_images)             # FID in the digits classifier's features

`load` and `sample` (from `jaxgen.run.load`) and the subpackages named in `_SUBPACKAGES` are
imported on first use (PEP 562): the layers below the run import `jaxgen` itself, and importing it
must not pull the run machinery, JAX or TensorFlow Datasets in.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib
from pathlib import Path


def _version() -> str:
  """The installed distribution's version; from a source tree that is not installed, the one in
  its pyproject.toml."""
  try:
    return importlib.metadata.version("jaxgen")
  except importlib.metadata.PackageNotFoundError:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
      return "0+unknown"
    return tomllib.loads(pyproject.read_text())["project"]["version"]


__version__ = _version()

_FROM_LOAD = ("load", "sample")  # functions of jaxgen.run.load
# Subpackages reachable as attributes after a bare `import jaxgen` (e.g. `jaxgen.metrics.fid`).
_SUBPACKAGES = ("algorithms", "configs", "data", "evaluators", "losses", "metrics", "nn", "run")

__all__ = ["__version__", *_FROM_LOAD, *_SUBPACKAGES]


def __getattr__(name: str):
  """`load`, `sample` and the subpackages, imported when first asked for."""
  if name in _FROM_LOAD:
    return vars(importlib.import_module("jaxgen.run.load"))[name]
  if name in _SUBPACKAGES:
    return importlib.import_module(f"jaxgen.{name}")
  raise AttributeError(f"module 'jaxgen' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted({*globals(), *__all__})
