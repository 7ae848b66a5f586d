"""Printing the threshold in use and the false-positive thresholds, with their report-split precision/recall."""

from __future__ import annotations

from typing import Any, Mapping

from rich.console import Console
from rich.table import Table

from ssflow_runtime.calibration import Calibration, rate_label


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _report_text(report: Mapping[str, Any] | None) -> str:
    if not report:
        return "report split: unknown"
    return (f"report split: precision {_ratio(report.get('precision'))}, recall {_ratio(report.get('recall'))} "
            f"({report.get('flagged')} flagged, {report.get('false_positives')} of {report.get('normal')} normal)")


def print_thresholds(console: Console, calibration: Calibration, summary: Mapping[str, Any] | None) -> None:
    """The threshold in use and each stored false-positive threshold.

    ``summary``: a dict with ``threshold`` and ``fpr_thresholds`` as
    :func:`ssflow.evaluation.calibration.threshold_summary` makes them (``metrics.json``
    carries them); None prints the calibrated values without precision/recall.
    """
    in_use = (summary or {}).get("threshold")
    if in_use:
        console.print(f"threshold {in_use['value']:.6g} ({in_use['rule']}); {_report_text(in_use.get('report'))}")
    else:
        console.print(f"threshold {calibration.threshold:.6g} ({calibration.threshold_rule}); report-split "
                      "precision/recall unknown (no metrics.json from 'train' beside the model)")
    if not calibration.fpr_thresholds:
        console.print("no false-positive thresholds (model written by an older version)")
        return
    reports = {entry["max_fpr"]: entry.get("report") for entry in (summary or {}).get("fpr_thresholds", [])}
    table = Table(title=f"thresholds by false-positive rate on {len(calibration.normal_scores)} normal "
                        f"{calibration.normal_source} images (predict --max-fpr RATE)", title_justify="left")
    for column in ("max FPR", "threshold", "report precision", "report recall"):
        table.add_column(column, justify="right")
    for rate, value in calibration.fpr_thresholds:
        report = reports.get(rate) or {}
        table.add_row(rate_label(rate), f"{value:.6g}", _ratio(report.get("precision")), _ratio(report.get("recall")))
    console.print(table)
