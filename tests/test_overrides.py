"""Dotted-key overrides (`jaxgen.run.overrides`): unknown keys, named blocks, typed parsing, CLI."""

import json
import os
import sys
from pathlib import Path

import hang_guard
import pytest

from jaxgen import data, optim
from jaxgen.configs import aae_digits, dcgan_digits, gan_ring8, vae_digits
from jaxgen.errors import ConfigError
from jaxgen.nn import DECODERS, GENERATORS, build_network
from jaxgen.run.overrides import apply_overrides, split_config_overrides

ROOT = Path(__file__).resolve().parents[1]


def locked(module):
  """The config of `module` locked, as the command line loads it."""
  config = module.get_config()
  config.lock()
  return config


def parsed(module, overrides):
  """(config, notices) after applying command-line strings to `module`'s locked config."""
  config = locked(module)
  return config, apply_overrides(config, overrides, parse_strings=True)


def dataset_of(config):
  return data.get(config.data.name, **dict(config.data.options))


# --- Unknown keys --------------------------------------------------------------------------------


def test_unknown_top_level_key_names_the_key_a_close_match_and_the_valid_keys():
  with pytest.raises(ConfigError) as error:
    parsed(gan_ring8, {"num_stepz": "5"})
  message = str(error.value)
  assert "Unknown config key 'num_stepz'; did you mean 'num_steps'?" in message
  assert "Valid keys: algorithm, batch_size, checkpoint_every," in message
  assert isinstance(error.value, ValueError)


def test_unknown_nested_key_names_the_level_and_its_valid_keys():
  with pytest.raises(ConfigError, match=r"'algorithm.losss'; did you mean 'algorithm.loss'\?") as e:
    parsed(gan_ring8, {"algorithm.losss": "minimax"})
  assert (
    "Valid keys of 'algorithm': discriminator_steps, generator_reuses_fakes, loss, name,"
    in str(e.value)
  )
  valid = r"'eval.nothing_like_it'\. Valid keys of 'eval': evaluators, ext"
  with pytest.raises(ConfigError, match=valid):
    parsed(gan_ring8, {"eval.nothing_like_it": "1"})
  with pytest.raises(ConfigError, match=r"'seed.x': 'seed' is a value \(0\), not a group"):
    parsed(gan_ring8, {"seed.x": "1"})


# --- data.options --------------------------------------------------------------------------------


def test_documented_data_option_missing_from_the_config_file_is_set_and_reaches_the_data():
  config, notices = parsed(gan_ring8, {"data.options.std": "0.02"})
  assert "std" not in gan_ring8.get_config().data.options  # the config file does not spell it out
  assert config.data.options.std == 0.02 and notices == []
  assert dataset_of(config).std == 0.02
  assert config.is_locked  # unlocked only to add the option


def test_unknown_data_option_is_refused_naming_the_valid_ones():
  with pytest.raises(ConfigError) as error:
    parsed(gan_ring8, {"data.options.stdd": "0.02"})
  message = str(error.value)
  assert "'data.options.stdd'" in message and "data set 'ring8'" in message
  assert "did you mean 'std'?" in message
  assert "Valid options: data_seed, num_examples, radius, std." in message


@pytest.mark.parametrize("name_first", [True, False])
def test_data_options_follow_the_data_name_set_in_the_same_overrides(name_first):
  items = [("data.name", "swissroll"), ("data.options.noise", "0.1")]
  config, notices = parsed(gan_ring8, dict(items if name_first else items[::-1]))
  assert notices == []
  assert dataset_of(config).noise == 0.1
  with pytest.raises(ConfigError, match="not an option of the data set 'ring8'"):
    parsed(gan_ring8, {"data.options.noise": "0.1"})  # swissroll's option, not ring8's


def test_changing_the_data_set_drops_the_old_options_with_a_notice():
  config, notices = parsed(dcgan_digits, {"data.name": "ring8", "data.options.std": "0.1"})
  assert notices == ["data.options: digits -> ring8 drops size=16 (not options of ring8)"]
  assert dict(config.data.options) == {"std": 0.1}
  assert dataset_of(config).std == 0.1


def test_unknown_data_set_lists_the_data_sets():
  with pytest.raises(
    ConfigError, match=r"Unknown data set 'ring9'.*did you mean 'ring8'.*swissroll"
  ):
    parsed(gan_ring8, {"data.name": "ring9"})


# --- Optimizers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("parse_strings", [True, False])
def test_switching_optimizer_drops_the_options_the_new_one_does_not_take(parse_strings):
  config = locked(gan_ring8)
  notices = apply_overrides(
    config, {"optimizer.generator.name": "sgd"}, parse_strings=parse_strings
  )
  assert notices == ["optimizer.generator: adam -> sgd drops b1=0.8, b2=0.999 (not options of sgd)"]
  assert dict(config.optimizer.generator) == {"name": "sgd", "learning_rate": 1e-4}
  optim.make_optimizer(config.optimizer.generator)
  assert config.optimizer.discriminator.b1 == 0.8  # the other player keeps its Adam


def test_switching_optimizer_keeps_what_the_new_one_takes_and_adds_its_options():
  config, notices = parsed(
    gan_ring8,
    {"optimizer.generator.name": "adamw", "optimizer.generator.weight_decay": "0.01"},
  )
  assert notices == []  # adamw takes b1 and b2 too
  assert config.optimizer.generator.b1 == 0.8 and config.optimizer.generator.weight_decay == 0.01
  config, _ = parsed(gan_ring8, {"optimizer.generator.clip_grad_norm": "1.0"})  # any optimizer's
  optim.make_optimizer(config.optimizer.generator)


@pytest.mark.parametrize("name_first", [True, False])
def test_explicit_option_the_new_optimizer_does_not_take_is_refused(name_first):
  items = [("optimizer.generator.name", "sgd"), ("optimizer.generator.b1", "0.3")]
  with pytest.raises(ConfigError) as error:
    parsed(gan_ring8, dict(items if name_first else items[::-1]))
  message = str(error.value)
  assert "'optimizer.generator.b1'" in message and "optimizer 'sgd'" in message
  assert "Valid options: clip_grad_norm, learning_rate, weight_decay." in message


def test_unknown_optimizer_name_lists_the_optimizers():
  with pytest.raises(ConfigError, match=r"optimizer 'sgdd'.*did you mean 'sgd'.*adam, adamw,"):
    parsed(gan_ring8, {"optimizer.generator.name": "sgdd"})


def test_whole_optimizer_block_is_replaced_by_a_literal():
  literal = "{'name': 'sgd', 'learning_rate': 0.01}"
  config, notices = parsed(gan_ring8, {"optimizer.generator": literal})
  assert dict(config.optimizer.generator) == {"name": "sgd", "learning_rate": 0.01}
  assert notices == [] and config.is_locked
  optim.make_optimizer(config.optimizer.generator)
  # Later keys refine the literal; earlier ones are replaced by it.
  config, _ = parsed(
    gan_ring8,
    {
      "optimizer.generator.weight_decay": "0.5",
      "optimizer.generator": literal,
      "optimizer.generator.learning_rate": "0.1",
    },
  )
  assert dict(config.optimizer.generator) == {"name": "sgd", "learning_rate": 0.1}
  with pytest.raises(ConfigError, match=r"'optimizer.generator.b1'.*optimizer 'sgd'"):
    parsed(gan_ring8, {"optimizer.generator": "{'name': 'sgd', 'learning_rate': 0.1, 'b1': 0.5}"})
  with pytest.raises(ConfigError, match=r"'optimizer.generator': '\(sgd\)' is not a dict literal"):
    parsed(gan_ring8, {"optimizer.generator": "(sgd)"})


def test_a_block_given_by_its_bare_name_takes_the_named_defaults_and_says_so():
  config, notices = parsed(
    gan_ring8, {"optimizer.generator": "sgd", "optimizer.generator.learning_rate": "0.1"}
  )
  assert dict(config.optimizer.generator) == {
    "name": "sgd",
    "learning_rate": 0.1,
    "weight_decay": 0.0,
    "clip_grad_norm": None,
  }
  assert notices == [
    "optimizer.generator: sgd with its defaults weight_decay=0.0, clip_grad_norm=None"
  ]


# --- Networks and the other named blocks --------------------------------------------------------


def test_network_options_are_the_module_fields_the_factory_leaves_to_the_config():
  config, _ = parsed(dcgan_digits, {"model.discriminator.norm": "layer"})  # not in the file
  assert config.model.discriminator.norm == "layer"
  with pytest.raises(ConfigError) as error:
    parsed(gan_ring8, {"model.generator.hiden": "(8,)"})
  assert "did you mean 'hidden'?" in str(error.value)
  valid = "activation, batch_norm, dtype, hidden, init_scale, kernel_init, leaky_slope."
  assert f"Valid options: {valid}" in str(error.value)  # not output_dim
  with pytest.raises(ConfigError, match="'latent_dim' is not an option of the encoder network"):
    parsed(vae_digits, {"model.encoder.latent_dim": "3"})  # set by the algorithm


def test_switching_network_drops_the_old_options_and_the_result_builds():
  config, notices = parsed(gan_ring8, {"model.generator.name": "dcgan"})
  assert notices == [
    "model.generator: mlp -> dcgan drops batch_norm=True, hidden=(400, 400, 400, 400) "
    "(not options of dcgan)"
  ]
  build_network(
    GENERATORS, "generator", config.model.generator, example_shape=(16, 16, 1), num_classes=0
  )
  config, _ = parsed(vae_digits, {"model.decoder": "{'name': 'mlp', 'hidden': (8,)}"})
  build_network(DECODERS, "decoder", config.model.decoder, example_shape=(16, 16, 1), num_classes=0)


def test_switching_the_prior_drops_the_mixture_options():
  config, notices = parsed(
    aae_digits,
    {"algorithm.prior.name": "spike_and_slab", "algorithm.prior.slab_probability": "0.3"},
  )
  assert notices == [
    "algorithm.prior: gaussian_mixture -> spike_and_slab drops num_components=10, radius=2.0, "
    "std=0.5 (not options of spike_and_slab)"
  ]
  assert dict(config.algorithm.prior) == {"name": "spike_and_slab", "slab_probability": 0.3}


# --- Typed parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
  "key, text, expected",
  [
    ("num_steps", "5", 5),
    ("seed", "-3", -3),
    ("optimizer.generator.learning_rate", "1e-3", 1e-3),
    ("optimizer.generator.learning_rate", "1", 1.0),  # a float field takes an int
    *[("progress_bar", t, True) for t in ("true", "True", "1")],
    *[("progress_bar", t, False) for t in ("false", "False", "0")],
    ("model.generator.hidden", "(8, 8)", (8, 8)),
    ("model.generator.hidden", "[8]", (8,)),  # a list becomes the field's tuple
    ("model.generator.hidden", "8,", (8,)),
    ("algorithm.loss", "minimax", "minimax"),
    ("eval.extractor", "1e-3", "1e-3"),  # a str field keeps the text
    ("data.options.num_examples", "None", None),  # ring8: fresh samples each step
    ("data.options.data_seed", "4", 4),  # typed by the data set's default
  ],
)
def test_strings_are_parsed_by_the_type_of_the_field(key, text, expected):
  config, _ = parsed(gan_ring8, {key: text})
  value = config
  for part in key.split("."):
    value = value[part]
  assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
  "key, text, expected",
  [
    ("num_steps", "1e-3", "an int"),
    ("num_steps", "five", "an int"),
    ("progress_bar", "maybe", "a bool"),
    ("optimizer.generator.learning_rate", "fast", "a float"),
    ("model.generator.hidden", "8", "a tuple"),
    ("data.options.std", "wide", "a float"),
  ],
)
def test_bad_values_are_refused_naming_key_value_and_type(key, text, expected):
  with pytest.raises(ConfigError) as error:
    parsed(gan_ring8, {key: text})
  message = str(error.value)
  assert f"config key {key!r}: {text!r} is not {expected}" in message
  assert f"--config.{key}=" in message  # an example of the right form


def test_typed_values_are_checked_too():
  config = locked(gan_ring8)
  apply_overrides(config, {"optimizer.generator.b1": 1, "eval.num_samples": 10})
  assert config.optimizer.generator.b1 == 1.0 and type(config.optimizer.generator.b1) is float
  with pytest.raises(ConfigError, match=r"'num_steps': 2.5 is not an int"):
    apply_overrides(config, {"num_steps": 2.5})
  with pytest.raises(ConfigError, match=r"'progress_bar': 1 is not a bool"):
    apply_overrides(config, {"progress_bar": 1})


# --- The command line ----------------------------------------------------------------------------


def test_split_takes_every_override_form_and_leaves_the_rest():
  argv = [
    "train.py",
    "--config=configs/x.py:arg",
    "--config.num_steps=5",
    "--config.seed",
    "-3",
    "--config.progress_bar",
    "--noconfig.conditional",
    "--workdir=w",
    "--config.num_steps=7",
    "--",
    "--config.after=1",
  ]
  rest, overrides = split_config_overrides(argv)
  assert rest == ["train.py", "--config=configs/x.py:arg", "--workdir=w", "--", "--config.after=1"]
  assert list(overrides.items()) == [
    ("seed", "-3"),
    ("progress_bar", "true"),
    ("conditional", "false"),
    ("num_steps", "7"),  # the last one wins
  ]
  config = locked(gan_ring8)
  apply_overrides(config, overrides, parse_strings=True)
  assert (config.seed, config.progress_bar, config.conditional, config.num_steps) == (
    -3,
    True,
    False,
    7,
  )


def test_flag_without_a_value_is_only_for_bool_fields():
  _, overrides = split_config_overrides(["--config.num_steps", "--workdir=w"])
  with pytest.raises(ConfigError, match=r"--config.num_steps needs a value: write --config.num_"):
    apply_overrides(locked(gan_ring8), overrides, parse_strings=True)
  with pytest.raises(ConfigError, match="--noconfig.KEY sets a bool field"):
    split_config_overrides(["--noconfig.progress_bar=1"])


def _train(tmp_path, *args):
  command = [
    sys.executable,
    str(ROOT / "scripts" / "train.py"),
    f"--workdir={tmp_path / 'run'}",
    "--config.batch_size=32",
    "--config.num_steps=2",
    "--config.eval_every=2",
    "--config.checkpoint_every=2",
    "--config.eval.num_samples=100",
    "--noconfig.progress_bar",
    *args,
  ]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  return hang_guard.run(command, capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
  "flag, named", [("--config.num_stepz=5", "'num_stepz'"), ("--config.foo=1", "'foo'")]
)
def test_command_line_config_error_exits_2_with_the_message_last_and_no_traceback(
  tmp_path, flag, named
):
  result = _train(tmp_path, f"--config={ROOT / 'tests' / 'tiny_ring8_config.py'}", flag)
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("ConfigError: Unknown config key") and named in last
  assert "Traceback" not in result.stderr


def test_command_line_applies_data_options_optimizer_switch_and_config_argument(tmp_path):
  # A config file with an argument (`path:arg`), which config_flags passes to get_config.
  config_file = tmp_path / "seeded_config.py"
  config_file.write_text(
    "import sys\n"
    f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
    "import tiny_ring8_config\n\n\n"
    "def get_config(seed):\n"
    "  config = tiny_ring8_config.get_config()\n"
    "  config.seed = int(seed)\n"
    "  return config\n"
  )
  result = _train(
    tmp_path,
    f"--config={config_file}:7",
    "--config.data.options.std=0.02",
    "--config.optimizer.generator.name=sgd",
    "--config.optimizer.discriminator={'name': 'momentum', 'learning_rate': 0.01}",
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert "optimizer.generator: adam -> sgd drops b1=0.8, b2=0.999 (not options of sgd)" in (
    result.stderr.splitlines()
  )
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["seed"] == 7 and saved["num_steps"] == 2
  assert saved["data"]["options"] == {"std": 0.02}
  assert saved["optimizer"]["generator"] == {"name": "sgd", "learning_rate": 1e-4}
  assert saved["optimizer"]["discriminator"] == {"name": "momentum", "learning_rate": 0.01}


def test_switching_the_algorithm_on_the_command_line_brings_its_own_keys():
  """--config.algorithm.name=unrolled --config.algorithm.unroll_steps=3: the second key is the
  newly named algorithm's, typed by its literal and checked by the algorithm."""
  from jaxgen.run import config_check

  config = gan_ring8.get_config()
  overrides = {"algorithm.name": "unrolled", "algorithm.unroll_steps": "3"}
  overrides["optimizer.discriminator.eps_root"] = "1e-8"  # unrolling needs d sqrt(v) finite
  apply_overrides(config, overrides, parse_strings=True)
  assert config.algorithm.unroll_steps == 3
  config_check.check_config(config)
  config = gan_ring8.get_config()
  apply_overrides(config, {**overrides, "algorithm.unroll_steps": "-3"}, parse_strings=True)
  with pytest.raises(ConfigError, match="unroll_steps = -3 is refused: must be an integer >= 0"):
    config_check.check_config(config)


def test_another_algorithms_key_says_which_algorithm_reads_it():
  config = gan_ring8.get_config()
  with pytest.raises(ConfigError, match=r"it is an option of 'unrolled'\. To switch, give"):
    apply_overrides(config, {"algorithm.unroll_steps": "3"}, parse_strings=True)
  with pytest.raises(ConfigError, match=r"Unknown config key 'algorithm\.unrol_steps'\. Valid"):
    apply_overrides(config, {"algorithm.unrol_steps": "3"}, parse_strings=True)
