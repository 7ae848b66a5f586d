"""Inference latency and throughput: ssflow on torch eager and on ONNX Runtime, beside PatchCore and PaDiM.

    python benchmarks/latency.py [--category wood] [--epochs 1] [--calls 40] [--batch-calls 5]
        [--threads N] [--onnx-out model.onnx]

One run: train the default config on demo/<category> (weights do not change
the arithmetic; 1 epoch is enough to time it), export it with
``export_onnx`` (checked against torch), fit anomalib's PatchCore and PaDiM on
the same backbone, levels and training images (``baselines.py``), then time
every method from uint8 pixels (N, 3, S, S) to anomaly map and image score:

- batch 1: milliseconds per image, p50 and p95 over ``--calls`` timed calls
  after 3 untimed ones;
- batch 16: images per second from the median of ``--batch-calls`` timed calls
  after one untimed one.

Each method is timed in its own block with a pause before it: torch's and
ONNX Runtime's thread pools both spin-wait after a call, and interleaving
their calls on 2 cores made each several times slower. The torch row is
:func:`ssflow.deployment.latency.pipeline_latency`, the timing the sweep records per
trial. CUDA rows are added when torch (and, for ONNX Runtime, its CUDA
provider) sees a GPU. Needs the ``bench`` extra (anomalib).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import onnxruntime as ort
import torch
from rich.console import Console
from rich.table import Table

from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat
from ssflow.deployment.latency import Latency, pipeline_latency, random_images, time_calls
from ssflow.deployment.model_io import LoadedModel
from ssflow.deployment.onnx_export import build_pipeline, export_onnx
from ssflow_runtime.onnx_model import INPUT, create_session, usable_cpus
from ssflow.deployment.pipeline import AnomalyPipeline
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import fit

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # anomalib 2.7 imports deprecated timm paths
    from baselines import build_baseline, fit_baseline, input_normalisation

BATCH = 16
PAUSE_SECONDS = 1.0  # lets the previous block's spinning threads go to sleep


class Row(NamedTuple):
    method: str
    runtime: str
    single: Latency  # batch 1, ms per image
    images_per_second: float  # batch 16


def _measure(method: str, runtime: str, run: Callable[[int], Callable[[], object]], calls: int, batch_calls: int,
             synchronize: Callable[[], None] | None = None) -> Row:
    """``run(batch_size)`` returns the call to time for that batch size."""
    time.sleep(PAUSE_SECONDS)
    single = time_calls(run(1), calls, warmup=3, synchronize=synchronize)
    time.sleep(PAUSE_SECONDS)
    batched = time_calls(run(BATCH), batch_calls, warmup=1, synchronize=synchronize)
    return Row(method, runtime, single, BATCH / (batched.p50_ms / 1000.0))


def _torch_row(pipeline: AnomalyPipeline, calls: int, batch_calls: int, device: torch.device) -> Row:
    time.sleep(PAUSE_SECONDS)
    single = pipeline_latency(pipeline.to(device), 1, calls, warmup=3)
    time.sleep(PAUSE_SECONDS)
    batched = pipeline_latency(pipeline, BATCH, batch_calls, warmup=1)
    return Row("ssflow", f"torch eager ({device.type})", single, BATCH / (batched.p50_ms / 1000.0))


def _onnx_row(path: Path, calls: int, batch_calls: int, device_name: str, threads: int) -> Row:
    session = create_session(path, device_name, threads)
    size = session.get_inputs()[0].shape[2]

    def run(batch: int) -> Callable[[], object]:
        images = random_images(size, batch)
        return lambda: session.run(None, {INPUT: images})

    provider = session.get_providers()[0].removesuffix("ExecutionProvider")
    return _measure("ssflow", f"ONNX Runtime ({provider})", run, calls, batch_calls)


def _baseline_row(method: str, model: torch.nn.Module, size: int, calls: int, batch_calls: int,
                  device: torch.device) -> Row:
    mean, std = (value.to(device) for value in input_normalisation())
    model.eval()

    def run(batch: int) -> Callable[[], object]:
        images = torch.from_numpy(random_images(size, batch)).to(device)

        def call() -> object:
            with torch.inference_mode():
                output = model((images.float() / 255.0 - mean) / std)
                return output.pred_score, output.anomaly_map

        return call

    synchronize = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    return _measure(f"anomalib {method}", f"torch eager ({device.type})", run, calls, batch_calls, synchronize)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--calls", type=int, default=40, help="timed batch-1 calls per method")
    parser.add_argument("--batch-calls", type=int, default=5, help="timed batch-16 calls per method")
    parser.add_argument("--threads", type=int, default=usable_cpus(), help="torch and ONNX Runtime threads")
    parser.add_argument("--onnx-out", default=None, help="keep the exported model here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    config = config_from_flat({"data.category": args.category, "train.epochs": args.epochs})
    size = config.backbone.image_size
    data = prepare_data(config)
    inputs = prepare_run(config, data, cpu)
    backbone = inputs.backbone
    result = fit(config, data, cpu, inputs=inputs)
    model = LoadedModel(config, result.flow, result.calibration)
    folder = Path(tempfile.mkdtemp(prefix="ssflow-latency-"))
    onnx_path = Path(args.onnx_out) if args.onnx_out else folder / "model.onnx"
    check = export_onnx(model, onnx_path, data.report.images[:4], backbone)
    baselines = {}
    for method in ("patchcore", "padim"):
        baselines[method] = build_baseline(method, 0, cpu)
        fit_baseline(baselines[method], data.train, 0, cpu)

    rows = [_torch_row(build_pipeline(model, backbone), args.calls, args.batch_calls, cpu),
            _onnx_row(onnx_path, args.calls, args.batch_calls, "cpu", args.threads)]
    rows += [_baseline_row(method, baseline, size, args.calls, args.batch_calls, cpu)
             for method, baseline in baselines.items()]
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        rows.append(_torch_row(build_pipeline(model, backbone), args.calls, args.batch_calls, gpu))
        if "CUDAExecutionProvider" in ort.get_available_providers():
            rows.append(_onnx_row(onnx_path, args.calls, args.batch_calls, "cuda", args.threads))
        for method, baseline in baselines.items():
            rows.append(_baseline_row(method, baseline.to(gpu), size, args.calls, args.batch_calls, gpu))
    _print(rows, args, size, len(data.train), check.score_relative_difference)
    # This run alone keeps the 1-minute load near the thread count; more means other work shared the cores.
    print(f"load average over the last minute when timing ended: {os.getloadavg()[0]:.1f}")


def _print(rows: list[Row], args: argparse.Namespace, size: int, train_images: int, score_gap: float) -> None:
    reference = rows[0]
    table = Table(title=f"default config, demo/{args.category}, {size} px, {train_images} training images; "
                        f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
                        f"onnxruntime {ort.__version__}", title_justify="left")
    for column in ("method", "runtime", "batch 1 p50 ms", "batch 1 p95 ms", "p50 vs torch eager",
                   f"batch {BATCH} images/s", "vs torch eager"):
        table.add_column(column, justify="left" if column in ("method", "runtime") else "right")
    for row in rows:
        table.add_row(row.method, row.runtime, f"{row.single.p50_ms:.1f}", f"{row.single.p95_ms:.1f}",
                      f"{row.single.p50_ms / reference.single.p50_ms:.2f}", f"{row.images_per_second:.1f}",
                      f"{row.images_per_second / reference.images_per_second:.2f}")
    console = Console(width=160)
    console.print(table)
    console.print(f"{args.calls} timed batch-1 calls and {args.batch_calls} timed batch-{BATCH} calls per row; "
                  f"ONNX export checked against torch (scores within {score_gap:.1g} relative)")


if __name__ == "__main__":
    main()
