"""The Python API: typed wrappers around the commands, so notebooks and pipelines need not shell out.

Each call builds the command's own arguments and runs the command's own code
(:mod:`cli.train_command`, :mod:`cli.search_command`), so a rule lives once.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from rich.console import Console

from ssflow.errors import UserInputError


def _flag_values(settings: Mapping[str, Any]) -> list[str]:
    """``{"--epochs": 2, "--shots": None, "--set": ["a=1"], "--resume": True}`` as argv (None and False left out)."""
    argv: list[str] = []
    for flag, value in settings.items():
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)] if flag != "--set" else [part for item in value for part in (flag, item)]
        else:
            argv += [flag, str(value)]
    return argv


def _overrides(overrides: Mapping[str, Any] | None) -> list[str] | None:
    """Config keys as ``--set key=value`` values (lists as ``[a,b]``, JSON-like)."""
    if not overrides:
        return None
    return [f"{key}={json.dumps(value) if isinstance(value, (list, tuple, bool)) else value}"
            for key, value in overrides.items()]


def _run(command: str, argv: list[str], console: Console | None) -> int:
    """Parse ``argv`` with the command's parser and run it; a usage mistake raises ``UserInputError``."""
    import importlib

    from cli.main import COMMANDS, command_parser

    parser = command_parser(command)

    def refuse(message: str) -> None:  # argparse would print the usage and exit the interpreter
        raise UserInputError(f"{command}: {message}")

    parser.error = refuse  # type: ignore[method-assign]
    args = parser.parse_args(argv)
    quiet = console or Console(file=io.StringIO(), width=160)
    return importlib.import_module(COMMANDS[command].work).run(args, quiet)


def train(dataset: str, category: str, out: str | Path, *, data_root: str | Path | None = None,
          config: str | Path | None = None, overrides: Mapping[str, Any] | None = None, epochs: int | None = None,
          seed: int | None = None, device: str = "auto", export_onnx: bool = False,
          shifted_test: str | Path | None = None, console: Console | None = None) -> dict[str, Any]:
    """Train and evaluate one category, as ``ssflow-search train``; the ``metrics.json`` it wrote.

    Args:
        dataset: a dataset name (``demo``, ``mvtec``, ``folder``, ...).
        category: the category to train.
        out: the model folder (``model.pt``, ``metrics.json``, ``config.yaml``, overlays).
        data_root: the dataset's folder or manifest file (``--data-root``); None: its default location.
        config: a config YAML, an export file or a preset name (``--config``).
        overrides: config keys and values, e.g. ``{"flow.coupling_blocks": 8}`` (``--set``).
        epochs: a shortcut for ``train.epochs``.
        seed: a shortcut for ``seed`` (data split, synthesis and initialisation).
        device: ``auto``, ``cpu`` or ``cuda``.
        export_onnx: also write ``model.onnx``, checked against torch.
        shifted_test: a second data root whose test images are scored too (``--shifted-test``).
        console: where progress and results are printed; None: nowhere.

    Returns:
        The parsed ``metrics.json``: ``status``, ``selection`` and ``report`` metrics (``image_auroc``,
        ``pixel_auroc``, ``aupro``, ``aupro_05``), ``threshold``, ``seconds``, ...

    Raises:
        UserInputError: a bad dataset, category, key, value or folder (one line), as the command refuses it.
    """
    argv = ["--dataset", dataset, "--category", category, "--out", str(out), "--device", device,
            *_flag_values({"--data-root": data_root, "--config": config, "--set": _overrides(overrides),
                           "--epochs": epochs, "--seed": seed, "--shifted-test": shifted_test,
                           "--export": "onnx" if export_onnx else None})]
    _run("train", argv, console)
    return json.loads((Path(out) / "metrics.json").read_text())


def sweep(dataset: str, *, name: str, storage: str | Path = "runs", categories: Sequence[str] | None = None,
          data_root: str | Path | None = None, space: str | Path | None = None, num_samples: int | None = None,
          max_epochs: int | None = None, time_budget: str | None = None, finalists: int | None = None,
          objective: str | None = None, overrides: Mapping[str, Any] | None = None, seed: int | None = None,
          concurrency: int | None = None, resume: bool = False, console: Console | None = None) -> Store:
    """Run a sweep (every category's study at once), as ``ssflow-search --dataset ...``; its :class:`Store`.

    Arguments mirror the sweep's flags (``--name``, ``--storage``, ``--categories``, ``--space``,
    ``--num-samples``, ``--max-epochs``, ``--time-budget`` such as ``"20m"``, ``--finalists``,
    ``--objective``, ``--set`` as ``overrides``, ``--seed``, ``--concurrency``, ``--resume``); None takes the
    command line's default. Raises ``UserInputError`` for what the command refuses; a sweep that ended
    with failed trials still returns its store (read ``Store.trials()``).
    """
    argv = ["--dataset", dataset, "--name", name, "--storage", str(storage),
            *_flag_values({"--categories": categories, "--data-root": data_root, "--space": space,
                           "--num-samples": num_samples, "--max-epochs": max_epochs, "--time-budget": time_budget,
                           "--finalists": finalists, "--objective": objective, "--set": _overrides(overrides),
                           "--seed": seed, "--concurrency": concurrency, "--resume": resume})]
    _run("search", argv, console)
    return Store(storage)


class Store:
    """A results store (``--storage``): one row per trial or per config, as pandas frames."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _rows(self, name: str | None) -> pd.DataFrame:
        from results.store import ResultStore

        return ResultStore(self.path).read(experiment=name)

    def trials(self, name: str | None = None) -> pd.DataFrame:
        """One row per trial (of sweep ``name``, or of every sweep): ``experiment``, ``category``, ``trial_id``,
        ``status``, ``last_epoch``, selection and report metrics at the last epoch, ``seconds``, ``hp.*``."""
        from results.ranking import trial_summary

        rows = self._rows(name)
        return trial_summary(rows) if not rows.empty else rows

    def best(self, name: str | None = None) -> pd.DataFrame:
        """The config ``export`` would ship per category: one row each, with its metrics over seeds and ``hp.*``."""
        from results.ranking import best_configs

        rows = self._rows(name)
        return best_configs(rows) if not rows.empty else rows


class Model:
    """A trained model (``model.pt`` or an exported ``.onnx``) ready to score image files."""

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        from ssflow.deployment.model_files import open_model

        self._opened = open_model(path, device)

    @property
    def threshold(self) -> float:
        """The image score at or above which an image is anomalous (the calibrated best-F1 threshold)."""
        return float(self._opened.calibration.threshold)

    def predict(self, images: Sequence[str | Path], threshold: float | None = None, recursive: bool = False
                ) -> pd.DataFrame:
        """Score image files and folders of them (``recursive``: and their sub-folders).

        Returns a frame with one row per image: ``path``, ``score`` (higher = more anomalous),
        ``normalized_score`` (0.5 at the threshold), ``anomalous`` (bool) and ``threshold``. Raises
        ``UserInputError`` for a missing path or an unreadable image.
        """
        from ssflow_runtime.image_files import find_images
        from ssflow_runtime.scoring import score_images

        limit = self.threshold if threshold is None else float(threshold)
        paths = find_images([str(image) for image in images], recursive)
        rows = [scored.prediction._asdict() for batch in score_images(self._opened, paths, limit)
                for scored in batch]
        return pd.DataFrame(rows)


def load_model(path: str | Path, device: str = "auto") -> Model:
    """The model at ``path`` (``model.pt`` or ``.onnx``) on ``device`` (``auto``, ``cpu``, ``cuda``)."""
    return Model(path, device)
