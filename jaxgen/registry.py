"""Your own components, registered from your own module: no edit of jaxgen needed.

    # my_components.py
    from jaxgen import registry

    @registry.register_dataset("my_points")
    def my_points(num_examples: int = 1000):          # the options are the keyword arguments
      return jaxgen.data.ArrayDataset(...)

    registry.register_objective("my_loss", jaxgen.losses.GanObjective(d_loss, g_loss))

    @registry.register_network("discriminator", "my_mlp", MyMLP, sets=("num_classes",))
    def my_mlp(example_shape, num_classes, **options):
      return MyMLP(num_classes=num_classes, **options)

    @registry.register_algorithm("my_gan")   # declares OPTIONS and PLAYERS (jaxgen.options)
    class MyGAN(jaxgen.algorithms.GAN): ...

    @registry.register_evaluator("my_metric")         # eval.evaluators = ("images", "my_metric")
    class MyMetric(jaxgen.evaluators.BaseEvaluator):
      def __call__(self, context):                      # context.samples, .data, .state, ...
        return {"my_metric": float(context.samples.std())}

Then name the module in the config, `config.imports = ("my_components",)` (a module on the Python
path, or a `.py` file's path), or on the command line, `--config.imports="('my_components',)"`.
`jaxgen.configs.load` and `check_config` import it before anything else, so training, resuming
(the workdir's `config.json` records it), evaluation and sampling find your components.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxgen.errors import ConfigError
from jaxgen.options import register_into

__all__ = [
  "import_components",
  "register_algorithm",
  "register_dataset",
  "register_evaluator",
  "register_network",
  "register_objective",
]


def register_algorithm(name: str):
  """Class decorator: `config.algorithm.name = name` (`jaxgen.algorithms.base.register`)."""
  from jaxgen.algorithms import base  # noqa: PLC0415

  return base.register(name)


def register_network(role: str, name: str, module: type, sets: tuple[str, ...] = ()):
  """Decorator of a network factory: `model.<role>.name = name`
  (`jaxgen.nn.registry.register_network`)."""
  from jaxgen.nn import registry  # noqa: PLC0415

  return registry.register_network(role, name, module, sets)


def register_dataset(
  name: str, facts=None, stand_in=None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
  """Decorator of a data set factory `factory(**options) -> Dataset`: `data.name = name`, its
  keyword arguments (with defaults) the `data.options`. `facts(**options) -> (example_shape,
  num_classes)` lets a config be checked without building the data set, `stand_in(example_shape,
  batch_size)` gives a zero batch when its keys are not "x" and "y" (`jaxgen.data.base.declare`).
  A name taken by a jaxgen data set is refused."""
  from jaxgen import data  # noqa: PLC0415
  from jaxgen.data.base import declare  # noqa: PLC0415

  def add(factory):
    if facts is not None or stand_in is not None:
      declare(facts, stand_in)(factory)
    return register_into(data.DATASETS, "data set", name, factory)

  return add


def register_objective(name: str, objective) -> Any:
  """`algorithm.loss = name` for a `jaxgen.losses.GanObjective` (a D loss and a G loss)."""
  from jaxgen import losses  # noqa: PLC0415

  if not isinstance(objective, losses.GanObjective):
    raise TypeError(f"register_objective({name!r}, ...) takes a jaxgen.losses.GanObjective.")
  try:  # every G loss is called with D's outputs on the fakes and on the real batch
    inspect.signature(objective.generator_loss).bind(None, None)
  except TypeError:
    raise TypeError(
      f"register_objective({name!r}, ...): its generator_loss must take (fake_logits, "
      "real_logits); add the second parameter even if the loss does not read it."
    ) from None
  return register_into(losses.GAN_OBJECTIVES, "GAN objective", name, objective)


def register_evaluator(name: str):
  """Class decorator: `config.eval.evaluators` may name it (`jaxgen.evaluators`)."""
  from jaxgen import evaluators  # noqa: PLC0415

  return evaluators.register_evaluator(name)


def import_components(config) -> None:
  """Imports the modules `config.imports` names (module names or `.py` paths), once each, so
  that the components they register exist before the config is checked or built."""
  modules = config.get("imports", ()) if hasattr(config, "get") else ()
  if isinstance(modules, str):
    raise ConfigError(
      f"imports = {modules!r} is a string; give a tuple of module names or .py paths, e.g. "
      f"--config.imports=\"('{modules}',)\"."
    )
  for module in modules or ():
    _import(module)


def _import(module: str) -> None:
  if not isinstance(module, str) or not module:
    raise ConfigError(f"imports holds {module!r}; each entry is a module name or a .py path.")
  if module.endswith(".py"):
    path = Path(module).expanduser().absolute()
    name = f"jaxgen_user_{path.stem}_{abs(hash(str(path)))}"
    if name in sys.modules:
      return
    if not path.is_file():
      raise ConfigError(f"imports: {module!r} is not a file; give an existing .py path.")
    spec = importlib.util.spec_from_file_location(name, path)
    user_module = importlib.util.module_from_spec(spec)
    sys.modules[name] = user_module
    try:
      spec.loader.exec_module(user_module)
    except Exception:
      del sys.modules[name]
      raise
    return
  try:
    importlib.import_module(module)
  except ModuleNotFoundError as error:
    raise ConfigError(
      f"imports: no module {module!r} ({error}); put it on PYTHONPATH or give its .py path."
    ) from None
