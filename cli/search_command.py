"""``run_search.py --dataset D``: the sweep, every category's study at once, with a live view."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Mapping

from rich.console import Console
from rich.markup import escape

from cli.data_notes import squash_note
from cli.live_view import LiveView
from ssflow_runtime.output_paths import check_output_folder
from cli.resolve import resolve_config
from cli.shown_text import shown
from cli.budget_view import budget_line
from cli.sweep_summary import feature_pass_line, outlier_lines, summary_table
from results.ranking import trial_summary
from results.schema import ENDED_WITHOUT_MODEL
from results.store import ResultStore
from search.cluster import check_reachable, connect, disconnect, quiet_ray
from search.driver_lease import DriverLease
from search.options import SweepOptions, check_sweep_name, default_sweep_name
from search.sweep_flags import SweepContext, check_flag_values, option_values
from search.scheduler import pruning_rungs
from search.studies import open_storage, sqlite_on_network_filesystem, storage_url
from search.space_checks import portfolio_notes
from search.sweep import CategoryPlan, check_name, plan_categories, run_sweep, sweep_budget
from search.durations import format_duration
from search.warm_start import earlier_bests
from spaces.space import SearchSpace, load_space
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.devices import resolve_device
from ssflow.errors import UserInputError
from ssflow.datasets.leakage import leak_line
from ssflow.redaction import redacted


EXIT_NO_TRIAL = 1  # the sweep ran, but no trial of any category trained


def _validate(args: argparse.Namespace) -> None:
    if args.name is not None:
        check_sweep_name(args.name)  # first: a bad name must not reach any folder or study
    check_flag_values(args)
    if not args.address:  # trials run on this machine: its devices are theirs (a cluster's may differ)
        resolve_device(args.device)


def _categories(args: argparse.Namespace, root: Path) -> list[str]:
    found = list_categories(args.dataset, root)
    if not args.categories:
        return found
    missing = [c for c in args.categories if c not in found]
    if missing:
        raise UserInputError(f"--categories: {', '.join(missing)} not in {args.dataset} at {root}; "
                             f"found {', '.join(found)}")
    return list(dict.fromkeys(args.categories))


def sweep_options(args: argparse.Namespace, base: SSFlowConfig, space: SearchSpace, name: str,
                  resources: Mapping[str, float]) -> SweepOptions:
    """The sweep the flags ask for on a cluster with ``resources`` (Ray's totals: CPU, GPU)."""
    values = option_values(args, SweepContext(base, space, resources))
    return SweepOptions(base=base, space=space, name=name, **values)


def run(args: argparse.Namespace, console: Console) -> int:
    opened_at = time.monotonic()
    _validate(args)
    space = load_space(args.space or ("demo" if args.dataset == "demo" else "default"))
    args.category = None
    base = resolve_config(args)
    root = prepare_root(args.dataset, Path(args.data_root) if args.data_root else default_root(args.dataset))
    categories = _categories(args, root)
    if args.resume and not args.name:
        raise UserInputError("--resume needs --name: the name of the sweep to continue (see 'ssflow-search show')")
    name = args.name or default_sweep_name(args.dataset, space.name, time.strftime('%Y%m%d-%H%M%S'))
    if args.address:
        check_reachable(args.address)
    if "://" not in args.storage:
        check_output_folder(Path(args.storage), "--storage")
    planned = sweep_options(args, base, space, name, {})
    check_name(planned)
    database = storage_url(planned)
    created = _new_sqlite_file(database)
    new_storage = "://" not in args.storage and not Path(args.storage).exists()
    quiet_ray()  # Optuna's and Ray's chatter off before the first study is touched
    lease = DriverLease(open_storage(database), name)  # a bad --optuna-storage costs one line before any work
    note = lease.acquire(args.take_over)  # a second driver of this sweep stops here (and deletes nothing)
    network = sqlite_on_network_filesystem(database)
    if network:
        console.print(f"[yellow]note[/]: the study database is SQLite on a network file system ({network}), whose "
                      "locking SQLite cannot rely on; pass --optuna-storage postgresql://... (or a sqlite:/// "
                      "file on the driver's local disk)", soft_wrap=True)
    if note:
        console.print(f"[yellow]note[/]: {shown(note)}")
    try:
        try:
            if planned.warm_start and not planned.resume:
                earlier_bests(ResultStore(planned.storage), planned.warm_start, base.data.dataset)
            # the space is checked, then every category's data is read, before Ray starts
            plans = plan_categories(planned, categories)
        except UserInputError:
            lease.release()  # before its database may go
            if created is not None:  # a refused sweep leaves no empty study database behind
                created.unlink(missing_ok=True)
            if new_storage:  # nor a --storage folder it made and left empty
                with contextlib.suppress(OSError):
                    Path(args.storage).rmdir()
            raise
        return _drive(args, console, planned, categories, database, plans, opened_at)
    finally:
        lease.release()
        if lease.lost:
            console.print("[yellow]note[/]: another driver took this sweep over (--take-over) while it ran; its "
                          "results from then on are that driver's", soft_wrap=True)


def _drive(args: argparse.Namespace, console: Console, planned: SweepOptions, categories: list[str],
           database: str, plans: list[CategoryPlan], opened_at: float) -> int:
    """The planned sweep, once this process holds its driver lease: Ray started, trials run, summary."""
    base, space, name = planned.base, planned.space, planned.name
    _print_plans(console, plans)
    resources = connect(args.address)
    try:
        options = sweep_options(args, base, space, name, resources)
        _print_header(console, options, categories, database)
        budget = sweep_budget(options)
        if budget is not None:
            budget.opened_at = opened_at
        ended, finalists, best = _ended_trials(options) if options.resume else ({}, set(), {})
        view = LiveView(console, categories, options.num_samples if options.sample_limit_given else None,
                        options.finalist_runs, options.max_epochs, ended=ended, finalists=finalists, best=best,
                        budget=budget)
        outcomes = None
        try:
            outcomes = run_sweep(options, plans, callbacks=[view], budget=budget)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: Tune stopped without its summary; the store and studies hold what ended
        except UserInputError:
            raise  # one line that already says how to go on (a failed write names the resume command)
        except Exception:  # a bug: its traceback follows, but what was recorded is kept and resumable
            console.print(f"[red]the sweep stopped on an error[/] (below); what ended is recorded: continue "
                          f"with the same command plus --resume --name {name}", soft_wrap=True)
            raise
        finally:
            view.close()
            console.print()
    finally:
        disconnect()
    if outcomes is not None:
        console.print(summary_table(options, outcomes))
        for line in outlier_lines(options):
            console.print(f"[yellow]note[/]: {shown(line)}", soft_wrap=True)
        passes = feature_pass_line(options)
        if passes:
            console.print(passes)
        if budget is not None:
            console.print(budget_line(budget.final_record or budget.record()), soft_wrap=True)
    if outcomes is None or not all(outcome.complete for outcome in outcomes):
        console.print(f"[yellow]interrupted[/]: continue with the same command plus --resume --name {name}",
                      soft_wrap=True)
        return 130
    if not any(outcome.statuses.get("finished", 0) + outcome.statuses.get("pruned", 0) for outcome in outcomes):
        console.print("[red]no trial trained[/]: every trial failed or diverged (their reasons are above and in "
                      f"'show --name {name}')", soft_wrap=True)
        return EXIT_NO_TRIAL
    return 0


def _ended_trials(options: SweepOptions) -> tuple[dict[str, dict[str, str]], set[str], dict[str, float]]:
    """Per category, the trials of the sweep that have a final row already, with their status; which of
    those are finalist runs; and the best selection objective stored so far."""
    rows = ResultStore(options.storage).read(experiment=options.name)
    if rows.empty:
        return {}, set(), {}
    summary = trial_summary(rows)
    ended = summary[summary["status"] != "running"]
    per_category = {category: dict(zip(part["trial_id"], part["status"]))
                    for category, part in ended.groupby("category")}
    healthy = rows[~rows["status"].isin(ENDED_WITHOUT_MODEL)].dropna(subset=["selection_objective"])
    best = healthy.groupby("category")["selection_objective"].max().to_dict()
    return per_category, set(ended.loc[ended["role"] == "finalist", "trial_id"]), best


def _new_sqlite_file(database: str) -> Path | None:
    """The SQLite file ``database`` names when it does not exist yet (opening it will create it); else None."""
    prefix = "sqlite:///"
    if not database.startswith(prefix):
        return None
    path = Path(database[len(prefix):])
    return None if path.exists() else path


def _print_plans(console: Console, plans: list[CategoryPlan]) -> None:
    for plan in plans:
        if plan.leaks:
            console.print(f"[yellow]leakage[/]: {shown(leak_line(plan.leaks, plan.category))}; going on "
                          "(--allow-leakage): its report metrics are inflated", soft_wrap=True)
        if plan.label_free:
            held = len(plan.data.validation.labels) if plan.data.validation is not None else 0
            console.print(f"{escape(plan.category)}: tuning on synthetic anomalies only ({held} synthetic "
                          "validation images painted on held-out normal training images; no labelled defect used)")
        if plan.data.squashed:
            console.print(f"[dim]{escape(plan.category)}: {squash_note(plan.data.squashed)}[/]")
        if len(plan.variants) > 1:
            console.print(f"{escape(plan.category)}: {len(plan.variants)} data variants (input size, tiles, scale, "
                          "aspect) read once each; their trials share one feature pass per variant")


def _print_header(console: Console, options: SweepOptions, categories: list[str], database: str) -> None:
    rungs = pruning_rungs(options.max_epochs, options.grace_period, options.reduction_factor)
    stops = (f"ASHA may stop trials at epoch{'s' if len(rungs) > 1 else ''} {', '.join(map(str, rungs))}"
             if rungs else "ASHA stops none")
    finalists = (f", then {options.finalists} finalists x {options.finalist_seeds} seeds"
                 if options.finalist_runs else "")
    if options.finalist_runs and options.time_budget_s:
        finalists = (f", then up to {options.finalists} finalists (the configs within the seed noise of the best) "
                     f"x {options.finalist_seeds} seeds")
    count = f"{len(categories)} categor{'y' if len(categories) == 1 else 'ies'}"
    epochs = f"{options.max_epochs} epoch{'s' if options.max_epochs != 1 else ''}"
    trials = f"{options.num_samples} trials" if options.sample_limit_given else "as many trials as the budget allows"
    console.print(f"[bold]{escape(options.name)}[/]: {count} x {trials}{finalists}, space "
                  f"{escape(options.space.name)}, up to {epochs} ({stops}), "
                  f"{options.concurrency} at once over all categories, storage {escape(redacted(options.storage))}")
    shown = escape(redacted(database))
    console.print(f"studies: {shown} (watch with: optuna-dashboard {shown})")
    if options.portfolio:
        count = len(options.portfolio)
        console.print(f"portfolio {escape(options.portfolio_source)}: {count} config{'s' if count != 1 else ''} "
                      "tried first in every category, read through the space")
        for note in portfolio_notes(options):
            console.print(f"[dim]  {escape(note)}[/]", soft_wrap=True)
    if options.time_budget_s:
        ends = time.strftime("%H:%M:%S", time.localtime(time.time() + options.time_budget_s))
        console.print(f"time budget {format_duration(options.time_budget_s)}: trials start while they are expected "
                      f"to end in time; the sweep ends by {ends}, finalists included")
