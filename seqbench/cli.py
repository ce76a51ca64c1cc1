"""The ``seqbench`` command line: run, report, list, fetch."""
from __future__ import annotations

import functools
from pathlib import Path

import typer

from .exceptions import ConfigError, DatasetUnavailableError

app = typer.Typer(help="Probabilistic sequence models compared on the same work.", no_args_is_help=True)
REPORTS = Path("reports")


def _clean_errors(command):
    """Show a user error (bad name, missing data) as one message and exit 2, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ConfigError, DatasetUnavailableError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_clean_errors
def run(suite: str = typer.Argument("quick", help="bundled suite name or path to a .toml file"),
        out: Path = typer.Option(None, help="output folder (default reports/<suite>)")):
    """Run every cell of a suite and store the results."""
    from .harness.simple import load_suite, run_suite

    spec = load_suite(suite)
    out = out or REPORTS / spec["name"]
    rows = run_suite(spec, out)
    ok = sum(r["status"] == "ok" for r in rows)
    typer.echo(f"{ok} cells run, {len(rows) - ok} not run; results in {out}/results.json")
    _print_table(rows)


def _print_table(rows):
    from rich.console import Console
    from rich.table import Table

    table = Table(title="results (test split)")
    for col in ("dataset", "task", "model", "metric", "value", "fit s"):
        table.add_column(col)
    for r in rows:
        if r["status"] != "ok":
            continue
        metric = "perplexity" if r["task"] == "lm" else "accuracy"
        table.add_row(r["dataset"], r["task"], r["model"], metric, f"{r[metric]:.4f}",
                      f"{r['fit_seconds']:.2f}" if "fit_seconds" in r else "")
    Console().print(table)


@app.command()
def report(suite: str = typer.Option(None, help="suite name (default: every results.json under reports/)"),
           reports_dir: Path = typer.Option(REPORTS, help="reports folder")):
    """Write reports/<suite>/index.html from stored results and refresh reports/index.html."""
    from .report import write_index, write_report

    paths = [reports_dir / suite / "results.json"] if suite else sorted(reports_dir.glob("*/results.json"))
    if not paths or not all(p.exists() for p in paths):
        raise typer.BadParameter(f"no results under {reports_dir}; run `seqbench run` first")
    for p in paths:
        typer.echo(f"wrote {write_report(p)}")
    typer.echo(f"wrote {write_index(reports_dir)}")


@app.command("list")
@_clean_errors
def list_(what: str = typer.Argument(..., help="models | datasets")):
    """List registered models or named datasets."""
    if what == "models":
        from .registry import list_models

        names = list_models()
    elif what == "datasets":
        from .data import list_datasets

        names = list_datasets()
    else:
        raise typer.BadParameter("expected 'models' or 'datasets'")
    for n in names:
        typer.echo(n)


@app.command()
@_clean_errors
def fetch(name: str = typer.Argument(..., help="dataset name, e.g. ptb")):
    """Download a named dataset from its upstream source and verify its sha256."""
    from .data import fetch as fetch_dataset

    for path in fetch_dataset(name):
        typer.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    app()
