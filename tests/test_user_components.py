"""Components registered from a module outside jaxgen train, resume and evaluate by name.

`tests/user_module/my_components.py` registers a data set, a GAN objective, a discriminator
network, an algorithm with an option of its own and an evaluator (`jaxgen.registry`); the config
names the module in `imports`. Each step runs in a fresh process (as a user's command would), so
nothing here relies on this process having imported the module, and the registries of the other
tests stay jaxgen's.
"""

import json
import sys
from pathlib import Path

import hang_guard
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "tests" / "user_module" / "my_components.py"
OVERRIDES = [
  f"--config.imports=('{MODULE}',)",
  "--config.algorithm.name=noisy_gan",
  "--config.algorithm.sample_noise=0.01",  # the user algorithm's own declared option
  "--config.data.name=three_blobs",
  "--config.data.options.spacing=3.0",  # the user data set's own option
  "--config.algorithm.loss=symmetric_least_squares",
  "--config.model.discriminator.name=tanh_mlp",
  "--config.model.discriminator.hidden=(16,16)",  # the user network's own option
  "--config.batch_size=64",
  "--config.eval.num_samples=256",
  "--config.eval.evaluators=('points', 'spread')",  # jaxgen's and the user's evaluator
  "--config.eval_every=20",
  "--config.checkpoint_every=20",
  "--config.log_every=10",
  "--config.progress_bar=false",
]


def _run(*args):
  result = hang_guard.run(
    [sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT
  )
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def _train(workdir, steps):
  return _run(
    ROOT / "scripts" / "train.py",
    "--config=gan_ring8",
    f"--workdir={workdir}",
    f"--config.num_steps={steps}",
    *OVERRIDES,
  )


@pytest.mark.slow
def test_user_components_train_resume_and_evaluate(tmp_path):
  workdir = tmp_path / "run"
  _train(workdir, 20)
  config = json.loads((workdir / "config.json").read_text())
  assert config["algorithm"]["name"] == "noisy_gan" and config["data"]["name"] == "three_blobs"
  assert config["algorithm"]["sample_noise"] == 0.01
  _train(workdir, 40)  # resumes from step 20 in a new process: the imports come from the config
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  train_steps = [r["step"] for r in records if "discriminator/loss" in r]
  assert train_steps == [10, 20, 30, 40], train_steps  # resumed at 20: no step trained twice
  assert [r["step"] for r in records if "eval/modes" in r] == [20, 40]
  assert all(r["eval/spread_x"] > 0 for r in records if "eval/modes" in r)
  _run(ROOT / "scripts" / "evaluate.py", f"--workdir={workdir}", "--num_samples=256")
  records = json.loads((workdir / "evaluation.json").read_text())
  assert records[-1]["step"] == 40 and 0 <= records[-1]["modes"] <= 3, records


def test_a_missing_user_module_is_one_line(tmp_path):
  result = hang_guard.run(
    [
      sys.executable,
      ROOT / "scripts" / "train.py",
      "--config=gan_ring8",
      f"--workdir={tmp_path / 'w'}",
      "--config.imports=('no_such_module_xyz',)",
    ],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert "no module 'no_such_module_xyz'" in last and "PYTHONPATH" in last, last
