"""The ``seqbench`` command line: run, report, list, fetch, validate, export, bench peers.

Exit codes: 0 all cells done, 1 some cells failed (the report is still
written), 2 usage or configuration error.
"""
from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path

import typer

from .exceptions import ConfigError, DatasetUnavailableError

app = typer.Typer(help="Probabilistic sequence models compared on the same work.", no_args_is_help=True)
REPORTS = Path("reports")


def _clean_errors(command):
    """Show a user error (bad name, bad suite, missing data, locked store) as one message and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ConfigError, DatasetUnavailableError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _split_names(values):
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``; None or empty -> None (no selection)."""
    names = [n.strip() for v in values or () for n in v.split(",") if n.strip()]
    return names or None


def _store_path(suite_name, store):
    return Path(store) if store else REPORTS / suite_name / "results.sqlite"


def _headline(row):
    from .report.sections import section_for  # the task's headline metric (tagging: accuracy)

    metrics = row.get("metrics") or {}
    preferred = (section_for(row["task"]).metric, "perplexity", "accuracy")
    name = next((m for m in preferred if m and m in metrics), next(iter(metrics), None))
    return f"{name}={metrics[name]:.4g}" if name else ""


def _line(row, i, n):
    seconds = (row.get("fit_seconds") or 0) + (row.get("eval_seconds") or 0)
    what = f"{row['model_id']} x {row['dataset']} x {row['task']} seed={row['seed']}"
    detail = _headline(row) if row["status"] == "ok" else (row.get("error_type") or row.get("error_message") or "")
    return f"[{i}/{n}] {row['status'] if row['status'] != 'ok' else 'done'} {what} {detail} ({seconds:.1f} s)"


@app.command()
@_clean_errors
def run(suite: str = typer.Argument("quick", help="bundled suite name or path to a .toml file"),
        backend: str = typer.Option(None, help="loky | dask | sequential (default: the suite's)"),
        n_jobs: int = typer.Option(None, help="cells run side by side (default: the suite's)"),
        scheduler: str = typer.Option(None, help="dask scheduler address, e.g. tcp://host:8786"),
        retry_failed: bool = typer.Option(False, help="re-run cells stored as failed"),
        store: Path = typer.Option(None, help="results store (default reports/<suite>/results.sqlite)"),
        models: list[str] = typer.Option(None, help="run only these model ids (repeat or comma-separate)"),
        datasets: list[str] = typer.Option(None, help="run only on these dataset ids (repeat or comma-separate)")):
    """Run every cell of a suite that the store does not hold yet.

    ``--models`` / ``--datasets`` run part of the suite (e.g. one long row at a
    time); the report still covers the whole suite, with every cell stored so far.
    """
    from .harness.cell import now
    from .harness.provenance import run_info
    from .harness.runner import run_cells
    from .harness.store import Store
    from .harness.suite import expand_cells, load_suite, select_cells

    spec = load_suite(suite)
    cells = expand_cells(spec)
    chosen = select_cells(cells, models=_split_names(models), datasets=_split_names(datasets))
    path = _store_path(spec.name, store)
    settings = {"backend": backend or spec.backend, "n_jobs": n_jobs or spec.n_jobs,
                "scheduler": scheduler or spec.scheduler or None}
    with Store(path) as st, st.lock():
        # the suite's cells, not only the chosen ones: the report keeps every stored cell of this suite
        run_id = st.begin_run({**run_info(spec, **settings), "cell_keys": sorted(c.key for c in cells)}, now())
        summary = _run_with_progress(run_cells, chosen, st, retry_failed=retry_failed, **settings)
        st.end_run(run_id, dataclasses.asdict(summary), now())
    typer.echo(f"{summary.n_total} cells: {summary.n_skipped_done} already done, {summary.n_run} run "
               f"({summary.n_ok} ok, {summary.n_failed} failed, {summary.n_unavailable} unavailable: data or device), "
               f"{summary.n_na} n/a written; {summary.wall_seconds:.1f} s; store {path}")
    if summary.n_failed:
        raise typer.Exit(1)


def _run_with_progress(run_cells, cells, store, **options):
    """A rich progress bar on a terminal; one line per finished cell otherwise."""
    if not sys.stdout.isatty():
        return run_cells(cells, store, on_row=lambda row, i, n: typer.echo(_line(row, i, n)), **options)
    from rich.progress import Progress

    with Progress() as progress:
        bar = progress.add_task("cells", total=None)

        def on_row(row, i, n):
            progress.update(bar, completed=i, total=n)
            if row["status"] not in ("ok", "n/a"):
                progress.console.print(_line(row, i, n), markup=False)

        return run_cells(cells, store, on_row=on_row, **options)


@app.command()
@_clean_errors
def report(suite: str = typer.Option(None, help="suite name (default: every store under reports/)"),
           store: Path = typer.Option(None, help="a results store to report on (instead of --suite)"),
           out: Path = typer.Option(None, help="folder for index.html (default: the store's folder)"),
           reports_dir: Path = typer.Option(REPORTS, help="reports folder whose index.html lists every report"),
           peers: bool = typer.Option(False, "--peers", help="the peers page of `seqbench bench peers` only "
                                      "(its store: --store, default <reports-dir>/peers/peers.sqlite)")):
    """Write reports/<suite>/index.html from the stored results and refresh reports/index.html.

    Without --suite or --store, also rewrites reports/peers/index.html when
    reports/peers/peers.sqlite exists. Reads only the stores; no model is
    re-run. Prints the time each page took.
    """
    import time

    from .report import write_index, write_report
    from .report.peers_page import write_peers_page

    if store is not None and suite is not None:
        raise ConfigError("give --suite or --store, not both")
    peers_store = reports_dir / "peers" / "peers.sqlite"
    if peers:
        if suite is not None:
            raise ConfigError("give --suite or --peers, not both")
        paths, peers_store = [], store or peers_store
        if not peers_store.is_file():
            raise ConfigError(f"no peers store {peers_store}; run `seqbench bench peers` first")
    elif store is not None:
        paths = [store]
    else:
        paths = [reports_dir / suite / "results.sqlite"] if suite else sorted(reports_dir.glob("*/results.sqlite"))
    writers = [(write_report, p) for p in paths]
    if peers or (suite is None and store is None and out is None and peers_store.is_file()):
        writers.append((write_peers_page, peers_store))
    missing = [str(p) for p in paths if not p.is_file()]
    if not writers or missing:
        raise ConfigError(f"no results store {', '.join(missing) or f'under {reports_dir}'}; "
                          f"run `seqbench run SUITE` first")
    if out is not None and len(writers) > 1:
        raise ConfigError("--out needs one store: give --suite, --store or --peers")
    for write, p in writers:
        t0 = time.perf_counter()
        html = write(p, out / "index.html" if out is not None else None)
        typer.echo(f"wrote {html} ({html.stat().st_size / 1024:,.0f} KiB in {time.perf_counter() - t0:.2f} s)")
    if reports_dir.is_dir():
        typer.echo(f"wrote {write_index(reports_dir)}")


@app.command()
@_clean_errors
def merge(sources: list[Path] = typer.Argument(..., help="stores to copy from (e.g. a GPU machine's)"),
          suite: str = typer.Option(None, help="merge into reports/<suite>/results.sqlite"),
          store: Path = typer.Option(None, help="or into this store")):
    """Copy the cells of other results stores into a suite's store; an ok cell is never replaced by a
    failed one (or by an older ok one). Then `seqbench report` shows them all."""
    from .harness.store import Store, merge_into

    if (suite is None) == (store is None):
        raise ConfigError("give --suite or --store (the store to merge into)")
    target = store or _store_path(suite, None)
    missing = [str(p) for p in sources if not Path(p).is_file()]
    if missing:
        raise ConfigError(f"no results store {', '.join(missing)}")
    with Store(target) as st, st.lock():
        for source in sources:
            counts = merge_into(st, source)
            typer.echo(f"{source}: {counts['copied']} cells copied, {counts['kept']} kept as they were "
                       f"-> {target}")


@app.command("list")
@_clean_errors
def list_(what: str = typer.Argument(..., help="models | datasets | tasks | suites")):
    """List registered models, named datasets, tasks or bundled suites."""
    if what == "models":
        from .registry import list_models as names
    elif what == "datasets":
        from .data import list_datasets as names
    elif what == "tasks":
        from .tasks import TASKS

        names = lambda: list(TASKS)  # noqa: E731
    elif what == "suites":
        from .harness.suite import list_suites as names
    else:
        raise ConfigError(f"cannot list {what!r}; expected models, datasets, tasks or suites")
    for n in names():
        typer.echo(n)


@app.command()
@_clean_errors
def fetch(name: str = typer.Argument(..., help="dataset name, e.g. ptb")):
    """Download a named dataset from its upstream source and verify its sha256."""
    from .data import fetch as fetch_dataset

    for path in fetch_dataset(name):
        typer.echo(str(path))


@app.command()
@_clean_errors
def validate(suite: str = typer.Argument(..., help="bundled suite name or path to a .toml file")):
    """Check a suite strictly without running it; print its grid size."""
    from .harness.suite import expand_cells, load_suite

    spec = load_suite(suite)
    cells = expand_cells(spec)
    n_na = sum(c.status == "n/a" for c in cells)
    typer.echo(f"{spec.name}: ok; {len(cells)} cells ({len(cells) - n_na} to run, {n_na} n/a)")


@app.command()
@_clean_errors
def export(suite: str = typer.Argument(..., help="suite name (its store under reports/)"),
           format: str = typer.Option("csv", "--format", help="csv | parquet"),
           out: Path = typer.Option(None, help="output file (default reports/<suite>/results.<format>)"),
           store: Path = typer.Option(None, help="results store (default reports/<suite>/results.sqlite)")):
    """Export the tidy results (one row per cell x metric) as CSV or Parquet."""
    from .harness.store import export as export_store

    path = _store_path(suite, store)
    if not path.exists():
        raise ConfigError(f"no results store {path}; run `seqbench run {suite}` first")
    typer.echo(str(export_store(path, out or path.with_name(f"results.{format}"), format=format)))


bench_app = typer.Typer(help="Benchmarks against peer libraries.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("peers")
@_clean_errors
def bench_peers(quick: bool = typer.Option(False, "--quick", help="small sizes (seconds per case)"),
                repeats: int = typer.Option(None, help="timed calls per contender (default 3 quick, 5 full)"),
                only: list[str] = typer.Option(None, "--only", help="a case or family (repeat or comma-separate)"),
                store: Path = typer.Option(None, help="results store (default reports/peers/peers.sqlite)"),
                seed: int = typer.Option(0, help="seed of every case's data")):
    """Time seqbench and the peer libraries on the same data, interleaved; print ratios and store them.

    Exit code 1 when a contender failed or a peer's numbers disagree beyond its tolerance.
    """
    from .bench.peers import main

    raise typer.Exit(main(quick=quick, repeats=repeats, only=only, store=store, seed=seed, echo=typer.echo))


if __name__ == "__main__":  # pragma: no cover
    app()
