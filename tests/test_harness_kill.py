"""A run killed with SIGKILL in the middle, then re-run: every cell done exactly once, nothing lost."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from seqbench.harness.store import Store

HERE = Path(__file__).resolve().parent

SUITE = """
name = "killme"
seeds = [0, 1, 2]
[defaults]
backend = "sequential"
[[datasets]]
name = "synthetic-hmm"
options = { n_states = 2, n_symbols = 4, n_sequences = 10, length = 8, seed = 3 }
[[models]]
id = "slow"
model = "_test_slow_lm"
params = { delay = 0.4 }
tasks = ["lm"]
[[models]]
id = "kn2"
model = "ngram"
params = { order = 2 }
tasks = ["lm"]
"""

# the CLI in a child process that knows the slow fake model
RUN = (
    "import sys; sys.path.insert(0, {here!r}); import _fake_models; _fake_models.register_slow(); "
    "from seqbench.cli import app; app(['run', {suite!r}, '--store', {store!r}], prog_name='seqbench')"
)


def _run(suite, store):
    code = RUN.format(here=str(HERE), suite=str(suite), store=str(store))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _n_rows(store):
    if not Path(store).exists():
        return 0
    with sqlite3.connect(store) as con:
        try:
            return con.execute("SELECT count(*) FROM cells").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_sigkill_then_rerun(tmp_path):
    suite, store = tmp_path / "killme.toml", tmp_path / "r.sqlite"
    suite.write_text(SUITE)
    child = _run(suite, store)
    deadline = time.monotonic() + 60
    while _n_rows(store) < 3 and time.monotonic() < deadline:  # kill it mid-run
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    n_before = _n_rows(store)
    assert 3 <= n_before < 8, "the run should have been killed in the middle"

    second = _run(suite, store)
    out = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, out
    assert f"8 cells: {n_before} already done, {8 - n_before} run" in out, out
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(store) as st:
        rows = st.rows()
    assert len(rows) == len({r["key"] for r in rows}) == 8  # 6 model cells + 2 oracle cells, each once
    assert all(r["status"] == "ok" for r in rows)
    assert os.path.exists(f"{store}.lock")  # the lock file stays; the dead run's lock did not block the re-run
