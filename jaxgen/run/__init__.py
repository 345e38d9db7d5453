"""The run: the one training loop and its machinery, above the models.

`train` (the loop, `Run`, `jaxgen-train`), `load` (`jaxgen.load` and `jaxgen.sample`: a trained
run and its samples back in one call), `checkpoint` (+ `checkpoint_digest`, `checkpoint_steps`,
`checkpoint_orbax`), `config_check`, `overrides`, `evaluation` (the loop's side of
`jaxgen.evaluators`), `stops`, `metrics_log`, `progress`, `plots`, `files`, `parallel` (the only
device-aware module) and `workdir`. The tree reads top-down: the `jaxgen` command (`jaxgen.cli`),
scripts and `jaxgen.theory` -> the run (with `jaxgen.evaluators`) -> algorithms -> metrics,
networks, configs -> data, losses, optimizers, stabilisers. Nothing below the run imports it
(`tests/test_package_layers.py` checks).
"""
