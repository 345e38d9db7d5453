"""The command-line scripts run as the README shows them (small settings)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args, timeout=300):
  result = subprocess.run(
    [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT
  )
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_optimizers_demo_prints_step_table_and_writes_png(tmp_path):
  out = tmp_path / "demo.png"
  stdout = run_script(ROOT / "scripts" / "optimizers_demo.py", "--out", out)
  assert "| ravine" in stdout and "| Rosenbrock" in stdout
  ravine = next(line for line in stdout.splitlines() if line.startswith("| ravine"))
  sgd, momentum, nesterov = (int(c) for c in ravine.strip("| ").split("|")[-3:])
  assert nesterov < momentum < sgd
  assert out.stat().st_size > 10_000


def test_benchmark_prints_a_row_per_config():
  stdout = run_script(ROOT / "scripts" / "benchmark.py", "--configs=gan_ring8", "--iters=2")
  row = next(line for line in stdout.splitlines() if line.startswith("| gan_ring8"))
  compile_s, ms, steps_per_s, gflops = (float(c) for c in row.strip("| ").split("|")[1:])
  assert ms > 0 and steps_per_s > 0 and gflops > 0
