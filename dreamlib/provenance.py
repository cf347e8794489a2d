"""Provenance: what made a result (device, code, versions), and whether current code would too.

Every ``metrics.json`` carries :func:`versions` and :func:`device_name`. A record whose code
fingerprint or package version differs from this checkout's is *stale*
(:func:`stale_reason`): tables mark it instead of mixing it in silently.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import accelerate
import torch
import transformers

from . import __version__

# Modules whose code decides a run's numbers given its config; report/experiments/cli/paper
# only present them, and profiles.py only chooses configs (its defaults are written into each
# run's config.json, so they are part of the run's hash, and its grid settings choose which
# runs exist): editing a profile's seeds must not flag every stored run as stale.
RESULT_MODULES = ("blocks.py", "config.py", "counting.py", "data/__init__.py", "data/readers.py",
                  "data/registry.py", "data/sources.py", "data/splits.py", "encoder_folders.py", "encoders.py",
                  "models/__init__.py", "models/base.py", "models/text.py", "models/vision.py",
                  "models/zoo.py", "pretrain.py", "pretrain_data.py", "runs.py",
                  "shipped.py", "train.py", "transforms.py")
#: Fingerprints recorded under an earlier :data:`RESULT_MODULES` (which also held profiles.py),
#: each mapped to the fingerprint of the same source under today's list. Computed on that very
#: source when the list changed (``code_fingerprint(modules=...)`` of both lists on one tree),
#: so the runs it made keep reading as current while the files that count stay the same.
EARLIER_FINGERPRINTS = {"8976759bb9ed": "c1b16926e5a8"}
WEIGHTS_MANIFEST = "weights/MANIFEST.json"  # the shipped encoders' hashes: they decide results too


def processor_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else platform's guess: recorded with
    pre-trained weights, whose bit-identity holds on the same machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def device_name(device: torch.device) -> str:
    """A readable name of the device a run trained on (GPU model, or CPU and its threads)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def git_commit() -> str | None:
    """The commit of the dreamlib checkout, with '+dirty' when it has local changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def code_fingerprint(root: Path | None = None, modules: tuple[str, ...] = RESULT_MODULES) -> str:
    """Hash of the source that computes results and of the shipped encoders' manifest (their
    weights' SHA-256): a run made by other code or other weights is flagged stale. ``root``:
    a copy of the package (default: this one); ``modules``: the files that count."""
    root = Path(__file__).resolve().parent if root is None else Path(root)
    digest = hashlib.sha256()
    for name in modules + (WEIGHTS_MANIFEST,):
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()[:12]


def versions() -> dict:
    """Package versions and code identity recorded with every run."""
    return {"dreamlib": __version__, "code": code_fingerprint(), "git": git_commit(),
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "accelerate": accelerate.__version__}


def stale_reason(record: dict, code: str | None = None) -> str:
    """Why ``record`` was made by other code than this checkout's ('' when it was not).

    Two checks: the fingerprint of the result-computing source (``versions.code``, read
    through :data:`EARLIER_FINGERPRINTS` when it was recorded under an earlier list) and the
    dreamlib package version (``versions.dreamlib``). The git commit is recorded for
    provenance but not compared: committing the results themselves changes the commit, so
    every committed run would read as stale.
    """
    recorded = record.get("versions") or {}
    code = code_fingerprint() if code is None else code
    reasons = []
    made_by = EARLIER_FINGERPRINTS.get(recorded.get("code"), recorded.get("code"))
    if made_by != code:
        reasons.append(f"code {recorded.get('code')} (now {code})")
    if recorded.get("dreamlib") != __version__:
        reasons.append(f"dreamlib {recorded.get('dreamlib')} (now {__version__})")
    return "; ".join(reasons)
