"""The peers table printed by ``seqbench bench peers``: one block per case, one line per contender.

Columns: contender, status, median seconds, rate (items per second of the
median; the machine limits use the fastest repeat), ``seqbench/peer`` (the
ratio of seconds per item, below 1: seqbench is faster) and the agreement
check (max relative difference and the verdict).
"""
from __future__ import annotations

RATE = {"token": ("tokens/s", 1.0), "step": ("steps/s", 1.0), "FLOP": ("GFLOP/s", 1e9), "byte": ("GB/s", 1e9)}
WIDTHS = (50, 12, 11, 22, 15)


def _num(x, digits=3):
    if x is None:
        return "-"
    if abs(x) >= 1e3:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def rate(row):
    """``"1,234,567 tokens/s"``; limits at their fastest repeat; '-' without a time."""
    label, scale = RATE.get(row["unit"], (f"{row['unit']}/s", 1.0))
    seconds = row["seconds_min"] if row["role"] == "limit" else row["seconds_median"]
    if not seconds:
        return "-"
    return f"{_num(row['n_items'] / seconds / scale)} {label}"


def agreement_cell(row):
    a = row.get("agreement")
    if not a:
        return "-"
    if a.get("max_rel") is None:
        return "DIFFERS: " + a.get("detail", "")
    rel = f"rel {a['max_rel']:.1e}, abs {a['max_abs']:.1e}"
    if a["ok"] is None:
        return f"recorded, not judged: abs {a['max_abs']:.3g}"
    verdict = "ok" if a["ok"] else f"DIFFERS (rtol {a['rtol']:g}, atol {a['atol']:g})"
    return f"{verdict}: {rel}"


def extra_cell(row):
    """GFLOP/s and fraction of the peak, metrics, note or the reason of a failed / unavailable row."""
    if row["status"] != "ok":
        return row.get("error") or ""
    bits = []
    if row.get("gflops"):
        peak = row.get("fraction_of_peak")
        bits.append(f"{row['gflops']:.1f} GFLOP/s" + (f" = {peak:.0%} of peak" if peak else ""))
    bits += [f"{k} {_num(v, 4)}" for k, v in (row.get("metrics") or {}).items() if v is not None]
    if row.get("note"):
        bits.append(row["note"])
    return "; ".join(bits)


def format_table(rows):
    """The printed table of ``rows`` (from :func:`~seqbench.bench.peers.run_cases` or the store).

    Returns
    -------
    str
    """
    head = ("contender", "status", "median s", "rate", "seqbench/peer")
    lines = []
    for name in dict.fromkeys(r["case"] for r in rows):
        block = [r for r in rows if r["case"] == name]
        lines.append(f"\n{name}: {block[0]['data'] or ''}")
        lines.append("  " + "".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, WIDTHS)))
                     + "  agreement | notes")
        for r in block:
            ratio = "-" if r.get("time_ratio") is None else f"{r['time_ratio']:.3g}"
            cells = (r["contender"][:WIDTHS[0] - 1], r["status"], _num(r.get("seconds_median"), 4), rate(r), ratio)
            line = "".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS)))
            lines.append(f"  {line}  {agreement_cell(r)} | {extra_cell(r)}")
    return "\n".join(lines).lstrip("\n")
