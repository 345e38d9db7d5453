"""The catalogue (`python -m jaxgen.catalogue`) lists every registered component from its
declarations, and docs/options.md is its current output."""

import sys
from pathlib import Path

import hang_guard

from jaxgen import algorithms, catalogue, data, losses
from jaxgen.nn import registry as networks

ROOT = Path(__file__).resolve().parents[1]


def test_docs_option_tables_are_the_catalogues_output():
  # In a fresh process: other tests of this worker register components of their own.
  result = hang_guard.run(
    [sys.executable, "-m", "jaxgen.catalogue", "--markdown"],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert (ROOT / "docs" / "options.md").read_text() == result.stdout, (
    "docs/options.md is out of date: run `python -m jaxgen.catalogue --markdown > docs/options.md`"
  )


def test_every_registered_component_is_listed_with_its_declared_options():
  listed = {title: {name for name, _, _ in entries} for title, entries in catalogue.sections()}
  by_start = lambda start: next(v for k, v in listed.items() if k.startswith(start))
  assert by_start("Algorithms") == set(algorithms.ALGORITHMS)
  assert by_start("Data sets") == set(data.DATASETS)
  assert by_start("GAN objectives") == set(losses.GAN_OBJECTIVES)
  for role, registry in networks.NETWORKS.items():
    assert by_start(f"Networks: {role}") == set(registry)
  text = catalogue.as_text()
  assert "algorithm.unroll_steps = 5" in text  # UnrolledGAN's declared option and default
  assert "model.discriminator.input_scale = 1.0" in text  # MLPDiscriminator's field


def test_a_users_module_adds_its_components():
  module = ROOT / "tests" / "user_module" / "my_components.py"
  result = hang_guard.run(
    [sys.executable, "-m", "jaxgen.catalogue", f"--imports={module}"],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert result.returncode == 0, result.stderr[-2000:]
  for name in ("noisy_gan", "three_blobs", "tanh_mlp", "symmetric_least_squares", "spread"):
    assert f"  {name}: " in result.stdout, name
  assert "algorithm.sample_noise = 0.0" in result.stdout
