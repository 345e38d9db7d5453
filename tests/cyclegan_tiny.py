"""A tiny CycleGAN config on the 8x8 digits for the tests (a step compiles and runs quickly)."""

from jaxgen.configs import cyclegan_digits


def tiny_cyclegan_config(**overrides):
  config = cyclegan_digits.get_config()
  config.data.options = {"base": "digits", "transform": "invert_transpose", "size": 8}
  config.batch_size = 4
  config.num_steps = 4
  config.algorithm.pool_size = 3
  config.model.translator = {"name": "resnet", "features": 2, "num_blocks": 1}
  config.model.translator.num_downsamplings = 1
  config.model.discriminator = {"name": "patchgan", "features": 2, "num_layers": 1}
  config.eval.extractor = ""
  config.progress_bar = False
  for key, value in overrides.items():
    section = config
    *path, leaf = key.split(".")
    for part in path:
      section = section[part]
    section[leaf] = value
  return config
