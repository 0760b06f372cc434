"""What every measurement shares: result rows, timing helpers, the run's settings and models, and
worker subprocesses (``python -m benchmarks --worker NAME CONFIG``, run from the repository root).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]  # the repository root: benchmarks/ sits beside pages/
PAGES_DIR = ROOT / "pages"
SIZES = ("full", "tiny")
WORKER_TIMEOUT_S = 900

# Five sentences of about 20 tokens (GPT-2's tokenizer, which the full-size stand-ins use; the tiny
# ones' small vocabularies cut finer), with the repeated "bank" that the app's examples use.
SENTENCES = (
    "The bank raised its interest rates again this morning, and the money markets reacted at once.",
    "We sat on the river bank and watched the boats go by while the children played.",
    "She deposited her money at the bank before lunch and then walked back to her office.",
    "The river flooded the bank after the storm, and the farmers lost most of their crops.",
    "A cat sat on the warm mat by the window and watched the birds in the garden.",
)


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


# --- results --------------------------------------------------------------------------------------


@dataclass
class Result:
    """One row of the report.

    ``value`` and ``baseline`` are in ``unit``; ``ratio = value / baseline``; ``target`` is the
    bound on ``target_of`` ("ratio" or "value"), ``met`` None when there is no target or no value.
    """

    name: str
    unit: str
    value: float | None = None
    baseline: float | None = None
    target: float | None = None
    target_of: str = "ratio"
    status: str = "ok"
    repeats: int = 0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        bounded = self.ratio if self.target_of == "ratio" else self.value
        if self.target is None or bounded is None:
            return None
        return bool(bounded <= self.target)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, met=self.met)
        return json_safe(data)


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def unavailable(name: str, unit: str, why: str, target: float | None = None) -> Result:
    return Result(name, unit, target=target, status="unavailable", notes=[why])


# --- timing helpers -------------------------------------------------------------------------------


def time_once(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def time_pair(
    ours: Callable[[], Any], baseline: Callable[[], Any], repeats: int, warm_up: int = 1
) -> tuple[list[float], list[float]]:
    """Interleaved timings of two functions (after ``warm_up`` untimed rounds of each)."""
    for _ in range(warm_up):
        baseline()
        ours()
    ours_s, baseline_s = [], []
    for _ in range(repeats):
        baseline_s.append(time_once(baseline))
        ours_s.append(time_once(ours))
    return ours_s, baseline_s


def summary(seconds: Sequence[float]) -> dict[str, Any]:
    return {
        "best_s": min(seconds),
        "median_s": statistics.median(seconds),
        "runs_s": [round(s, 4) for s in seconds],
    }


# --- the run's settings and models ----------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    size: str
    repeats: int
    model_names: tuple[str, str]
    stand_ins: bool

    @property
    def tiny(self) -> bool:
        return self.size == "tiny"


class Bench:
    """Models loaded once for the in-process measurements; subprocess helpers."""

    def __init__(self, settings: Settings, workdir: Path, models: tuple[Any, Any] | None = None):
        self.settings = settings
        self.workdir = workdir
        self._models = models

    @property
    def models(self):
        if self._models is None:
            from embexplorer.models import load_model

            self._models = tuple(load_model(name) for name in self.settings.model_names)
        return self._models

    @property
    def device(self) -> str:
        return self.models[0].info.device

    def repeats(self, quick: int, full: int) -> int:
        if self.settings.tiny:
            return 1
        return self.settings.repeats or (quick if self.settings.quick else full)

    def subprocess_env(
        self, numba_cache: bool = True, numba_cache_dir: str | None = None
    ) -> dict[str, str]:
        env = dict(os.environ)
        env["HF_HUB_OFFLINE"] = "1"
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        env["EMBEXPLORER_MODEL_A"], env["EMBEXPLORER_MODEL_B"] = self.settings.model_names
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
        if numba_cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = numba_cache_dir
        elif numba_cache:
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-", dir=self.workdir)
        return env

    def empty_numba_cache(self) -> str:
        return tempfile.mkdtemp(prefix="numba-cache-", dir=self.workdir)

    def run_workers(
        self,
        jobs: Sequence[tuple[str, dict[str, Any]]],
        parallel: bool = False,
        numba_cache_dir: str | None = None,
        timeout_s: float = WORKER_TIMEOUT_S,
    ) -> list[dict]:
        """Run each ``(name, config)`` in a fresh Python process (one after the other, or side by
        side), each with its own empty numba cache unless ``numba_cache_dir`` is shared, each
        stopped after ``timeout_s``; return the JSON each wrote."""
        if not parallel:
            return [
                self._finish(*self._start(name, config, numba_cache_dir), timeout_s)
                for name, config in jobs
            ]
        started = [self._start(name, config, numba_cache_dir) for name, config in jobs]
        return [self._finish(*job, timeout_s) for job in started]

    def _start(self, name: str, config: dict[str, Any], numba_cache_dir: str | None = None):
        result_path = Path(tempfile.mkstemp(suffix=".json", dir=self.workdir)[1])
        config = dict(config, result=str(result_path))
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "--worker", name, json.dumps(config)],
            cwd=ROOT,
            env=self.subprocess_env(numba_cache=True, numba_cache_dir=numba_cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return name, process, result_path

    def _finish(
        self,
        name: str,
        process: subprocess.Popen,
        result_path: Path,
        timeout_s: float = WORKER_TIMEOUT_S,
    ) -> dict:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RuntimeError(f"worker {name} took over {timeout_s:.0f} s") from None
        if process.returncode != 0 or not result_path.stat().st_size:
            tail = (stderr or stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"worker {name} failed ({process.returncode}): {' | '.join(tail)}")
        return json.loads(result_path.read_text())


def corpus_sentences() -> list[str]:
    """The bundled demo corpus: 1,000 plain English sentences, one per line."""
    text = resources.files("embexplorer").joinpath("data/corpus.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]
