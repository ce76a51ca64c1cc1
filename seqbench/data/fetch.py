"""Where the corpora live, and how missing ones are downloaded (sha256-checked).

The data root is ``$SEQBENCH_DATA`` when set, else the ``datasets/`` folder
beside the ``seqbench`` package. A file is found as ``<root>/<folder>/<file>``
or its gzip copy ``<root>/<folder>/<file>.gz``. ``datasets/sources.toml``
names, per dataset, each file's path, pinned upstream URL and sha256.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from ..exceptions import ConfigError, DatasetUnavailableError

__all__ = ["data_root", "sources_path", "load_sources", "find_file", "locate", "fetch", "ChecksumError"]

ENV_VAR = "SEQBENCH_DATA"
_CHUNK = 1 << 20


class ChecksumError(DatasetUnavailableError):
    """A downloaded file's sha256 differs from the one in ``sources.toml`` (the file was deleted)."""


def _repo_root():
    return Path(__file__).resolve().parents[2]


def data_root():
    """The folder datasets are read from and fetched into.

    Returns
    -------
    Path
        ``$SEQBENCH_DATA`` when set (and non-empty), else ``<repo>/datasets``.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else _repo_root() / "datasets"


def sources_path():
    """Path of the bundled ``datasets/sources.toml``."""
    return _repo_root() / "datasets" / "sources.toml"


def load_sources(sources=None):
    """Read a sources file.

    Parameters
    ----------
    sources : str, Path or None
        A TOML file; ``None`` for :func:`sources_path`.

    Returns
    -------
    dict
        ``{dataset name: {"source", "licence", "citation", "files": [{"path", "url", "sha256"}]}}``;
        empty when the default file is absent.
    """
    path = Path(sources) if sources is not None else sources_path()
    if not path.is_file():
        if sources is not None:
            raise ConfigError(f"sources file {path} does not exist")
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)


def find_file(root, relpath):
    """``root/relpath`` or ``root/relpath.gz``, whichever exists (plain first), else ``None``."""
    plain = Path(root) / relpath
    for cand in (plain, plain.with_name(plain.name + ".gz")):
        if cand.is_file():
            return cand
    return None


def _unavailable_message(name, root, missing, entry, cause=None):
    urls = {f["path"]: f.get("url") for f in (entry or {}).get("files", [])}
    lines = [f"dataset {name!r} is not available: missing under the data root {root}:"]
    lines += [f"  {p}  (or {p}.gz)" for p in missing]
    if cause is not None:
        lines.append(f"Downloading failed: {cause}")
    lines.append(f"Fix: run `seqbench fetch {name}` (downloads into {root}; or pass download=True "
                 f"to load_dataset), or download")
    for p in missing:
        lines.append(f"  {urls.get(p) or '(see datasets/README.md)'}\n    -> {Path(root) / p}")
    lines.append(f"or set the environment variable {ENV_VAR} to a folder that already holds "
                 f"these files (same layout, plain or .gz).")
    return "\n".join(lines)


def locate(name, relpaths, root=None, sources=None):
    """Paths of a dataset's files on disk.

    Parameters
    ----------
    name : str
        Dataset name (for the message).
    relpaths : list of str
        Paths relative to the data root, without ``.gz``.
    root : str, Path or None
        Data root; ``None`` for :func:`data_root`.

    Returns
    -------
    list of Path
        In the order of ``relpaths``.

    Raises
    ------
    DatasetUnavailableError
        Naming every missing file, where to get it and ``seqbench fetch NAME``.
    """
    root = Path(root) if root is not None else data_root()
    found = [find_file(root, p) for p in relpaths]
    missing = [p for p, f in zip(relpaths, found) if f is None]
    if missing:
        entry = load_sources(sources).get(name)
        raise DatasetUnavailableError(_unavailable_message(name, root, missing, entry))
    return found


def _download(url, target, sha256, timeout):
    """Stream ``url`` to a temporary file beside ``target``, check sha256, rename atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {got}; "
                f"the download was deleted (nothing written to {target})")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch(name, root=None, sources=None, timeout=60):
    """Download the missing files of a named dataset.

    Files already present (plain or ``.gz``) are kept as they are.

    Parameters
    ----------
    name : str
        A dataset name (see :func:`seqbench.data.list_datasets`).
    root : str, Path or None
        Where to put the files; ``None`` for :func:`data_root`.
    sources : str, Path or None
        Sources file; ``None`` for the bundled ``datasets/sources.toml``.
    timeout : float
        Seconds per network operation.

    Returns
    -------
    list of Path
        Every file of the dataset on disk (empty for datasets without files:
        statsmodels series, synthetic sets).

    Raises
    ------
    ChecksumError
        A download's sha256 does not match (the partial file is deleted).
    DatasetUnavailableError
        A download failed (network error); the message says what to put where.
    ConfigError
        Unknown dataset name.
    """
    table = load_sources(sources)
    root = Path(root) if root is not None else data_root()
    if name not in table:
        from .named import list_datasets

        if name in list_datasets():
            return []
        raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(set(list_datasets()) | set(table)))}")
    entry = table[name]
    paths = []
    for spec in entry.get("files", []):
        for key in ("path", "url", "sha256"):
            if key not in spec:
                raise ConfigError(f"sources entry {name!r} has a file without {key!r}: {spec}")
        found = find_file(root, spec["path"])
        if found is None:
            found = root / spec["path"]
            try:
                _download(spec["url"], found, spec["sha256"], timeout)
            except ChecksumError:
                raise
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DatasetUnavailableError(
                    _unavailable_message(name, root, [spec["path"]], entry, cause=exc)) from exc
        paths.append(found)
    return paths
