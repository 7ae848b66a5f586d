"""``train --shifted-test``: the shifted test set's metrics beside the report split's, and their difference."""

from __future__ import annotations

from typing import Any

import torch
from rich.console import Console

from ssflow_runtime.text import plain
from cli.shown_text import shown
from cli.table_format import metric
from ssflow.settings.config import SSFlowConfig
from ssflow.evaluation.evaluate import SplitMetrics, UnhealthyMaps
from ssflow.model.flow import MultiScaleFlow
from ssflow.evaluation.shifted_test import ShiftedTest, metric_differences, score_shifted


def shifted_summary(shifted: ShiftedTest, flow: MultiScaleFlow, backbone: torch.nn.Module, config: SSFlowConfig,
                    report: SplitMetrics | None, device: torch.device) -> dict[str, Any]:
    """What ``metrics.json`` holds under ``shifted_test``: source, images, pairing, metrics and differences."""
    summary: dict[str, Any] = {"source": plain(shifted.source), "images": len(shifted.split),
                               "paired_with_report": shifted.paired}
    try:
        metrics = score_shifted(flow, backbone, shifted, config, device)
    except UnhealthyMaps as error:
        return {**summary, "metrics": None, "difference": None, "error": str(error)}
    difference = metric_differences(report, metrics) if report is not None and metrics is not None else None
    return {**summary, "metrics": metrics._asdict() if metrics else None, "difference": difference}


def print_shifted(console: Console, summary: dict[str, Any]) -> None:
    """Two lines: the shifted set's metrics, and the change from the report split's."""
    images = (f"{summary['images']} images, the report split's" if summary["paired_with_report"]
              else f"{summary['images']} images")
    if summary.get("error"):
        console.print(f"[red]shifted test[/] ({shown(summary['source'])}, {images}): {summary['error']}")
        return
    metrics = summary["metrics"] or {}
    console.print(f"  shifted: image AUROC {metric(metrics.get('image_auroc'), 3)}  pixel AUROC "
                  f"{metric(metrics.get('pixel_auroc'), 3)}  AUPRO {metric(metrics.get('aupro'), 3)}  AUPRO@0.05 "
                  f"{metric(metrics.get('aupro_05'), 3)}  ({shown(summary['source'])}, {images})", soft_wrap=True)
    difference = summary["difference"]
    if difference:
        parts = "  ".join(f"{name} {_signed(difference[name])}"
                          for name in ("image_auroc", "pixel_auroc", "aupro", "aupro_05"))
        console.print(f"difference: {parts} (shifted - report)")


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"
