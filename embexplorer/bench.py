"""``python -m embexplorer.bench``: how fast and how big embexplorer is, each number against a
baseline measured in the same run.

Models are full-size random-weight stand-ins (``GPT2Model(GPT2Config())`` and
``BertModel(BertConfig())`` with offline-trained fast tokenizers, saved once to a temporary
folder) unless real ones are given with ``--model-a/--model-b`` or the ``EMBEXPLORER_MODEL_A/B``
environment variables. Random weights cost exactly what trained ones cost.

Measurements (``--only`` selects some):

``extract_overhead``
    Our extraction of 5 sentences (both models, all layers, alignment, word items) / the bare
    transformers forward pass of the same, already tokenised batches with
    ``output_hidden_states=True``. Target <= 1.15.
``warm_rerun``
    The Projection page's rerun after changing only the layer / its run after changing the text
    (Streamlit AppTest). Target <= 0.2.
``umap_first``
    The first UMAP view, clicked 10 s after the app starts (with its background UMAP warm-up) /
    the same click in a fresh process without the warm-up. Fresh subprocesses, each with an empty
    ``NUMBA_CACHE_DIR``. Target <= 0.2.
``permutations``
    10,000-permutation Mantel test on 200 items (``rsa.mantel_p_value``) / a plain loop over
    permutations (``rsa.mantel_loop_reference``).
``layer_matrix``
    The 13 x 13 layer-by-layer RSA matrix for 5 sentences (``layers.layer_rsa_matrix``) / a plain
    loop of ``rsa.rsa_score`` calls.
``peak_rss_mb``
    Peak memory of an app process (fresh subprocess, AppTest) with both models loaded after a
    Projection and a Similarity render / the models' weights alone. Target <= 1500 MB.
``corpus``
    1,000 bundled sentences: extraction throughput (tokens/s) batched / one sentence at a time,
    and the seconds from hidden states to a 2D PCA scatter of all tokens (``corpus_scatter``).

Every in-process timing is the best of several runs (noise on a shared machine only adds time);
medians are in the JSON. ``--quick`` uses fewer runs and subsets (extrapolated, and said so);
``--size tiny`` uses tiny models and tiny workloads and only checks the plumbing (for tests).
Bad arguments exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

EXIT_USAGE = 2
ROOT = Path(__file__).resolve().parents[1]
PROJECTION_PAGE = ROOT / "pages" / "1_Projection.py"
SIMILARITY_PAGE = ROOT / "pages" / "2_Similarity.py"
SIZES = ("full", "tiny")
UMAP_CLICK_AFTER_S = 10.0
APP_TIMEOUT_S = 900  # AppTest's per-run limit: a cold UMAP view compiles numba code for ~30 s
WORKER_TIMEOUT_S = 900

# Five sentences of about 20 tokens (GPT-2's tokenizer; the stand-ins' small vocabularies cut a
# little finer), with the repeated "bank" that the app's examples use.
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
        return _json_safe(data)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
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


def build_stand_ins(folder: Path, size: str) -> tuple[str, str]:
    """Random-weight GPT-2 and BERT with fast tokenizers in ``folder`` (full: real shapes).

    The stand-in builders train small vocabularies; at full size the embedding tables are then
    widened to the real ones (50,257 and 30,522 rows), so memory matches ``GPT2Model(GPT2Config())``
    and ``BertModel(BertConfig())`` exactly. Token ids stay below the trained vocabulary's size.
    """
    import torch
    from transformers import AutoConfig, BertConfig, BertModel, GPT2Config, GPT2Model

    from .testing import build_bert_standin, build_gpt2_standin

    paths = (
        build_gpt2_standin(folder / "gpt2-standin", size=size),
        build_bert_standin(folder / "bert-standin", size=size),
    )
    if size == "full":
        for path, model_class, config_class in (
            (paths[0], GPT2Model, GPT2Config),
            (paths[1], BertModel, BertConfig),
        ):
            config = AutoConfig.from_pretrained(path)
            config.vocab_size = config_class().vocab_size
            torch.manual_seed(0)
            model_class(config).save_pretrained(path)
    return str(paths[0]), str(paths[1])


class Bench:
    """Models loaded once for the in-process measurements; subprocess helpers."""

    def __init__(self, settings: Settings, workdir: Path, models: tuple[Any, Any] | None = None):
        self.settings = settings
        self.workdir = workdir
        self._models = models

    @property
    def models(self):
        if self._models is None:
            from .models import load_model

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
    ) -> list[dict]:
        """Run each ``(name, config)`` in a fresh Python process (one after the other, or side by
        side), each with its own empty numba cache unless ``numba_cache_dir`` is shared; return
        the JSON each wrote."""
        if not parallel:
            return [
                self._finish(*self._start(name, config, numba_cache_dir)) for name, config in jobs
            ]
        started = [self._start(name, config, numba_cache_dir) for name, config in jobs]
        return [self._finish(*job) for job in started]

    def _start(self, name: str, config: dict[str, Any], numba_cache_dir: str | None = None):
        result_path = Path(tempfile.mkstemp(suffix=".json", dir=self.workdir)[1])
        config = dict(config, result=str(result_path))
        process = subprocess.Popen(
            [sys.executable, "-m", "embexplorer.bench", "--worker", name, json.dumps(config)],
            cwd=ROOT,
            env=self.subprocess_env(numba_cache=True, numba_cache_dir=numba_cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return name, process, result_path

    def _finish(self, name: str, process: subprocess.Popen, result_path: Path) -> dict:
        try:
            stdout, stderr = process.communicate(timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RuntimeError(f"worker {name} took over {WORKER_TIMEOUT_S} s") from None
        if process.returncode != 0 or not result_path.stat().st_size:
            tail = (stderr or stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"worker {name} failed ({process.returncode}): {' | '.join(tail)}")
        return json.loads(result_path.read_text())


def corpus_sentences() -> list[str]:
    """The bundled demo corpus: 1,000 plain English sentences, one per line."""
    text = resources.files("embexplorer").joinpath("data/corpus.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- extract_overhead -----------------------------------------------------------------------------


def bare_forward(loaded, batch: dict) -> None:
    """The transformers forward pass alone, on a tokenised batch."""
    import torch

    with torch.inference_mode():
        loaded.model(**batch, output_hidden_states=True)
    if loaded.info.device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_extract_overhead(bench: Bench) -> list[Result]:
    from .align import paired_items
    from .extract import extract_hidden_states

    model_a, model_b = bench.models
    texts = list(SENTENCES)
    batches = []
    for loaded in (model_a, model_b):
        encoded = loaded.tokenizer(texts, padding=True, return_tensors="pt")
        batches.append({key: tensor.to(loaded.info.device) for key, tensor in encoded.items()})

    def ours():
        states = [extract_hidden_states(loaded, texts) for loaded in (model_a, model_b)]
        paired_items(*states, unit="word")

    def baseline():
        for loaded, batch in zip((model_a, model_b), batches, strict=True):
            bare_forward(loaded, batch)

    repeats = bench.repeats(quick=4, full=15)
    ours_s, baseline_s = time_pair(
        ours, baseline, repeats, warm_up=1 if bench.settings.quick else 2
    )
    tokens = {
        loaded.info.short_name: int(batch["attention_mask"].sum())
        for loaded, batch in zip((model_a, model_b), batches, strict=True)
    }
    return [
        Result(
            "extract_overhead",
            "s",
            value=min(ours_s),
            baseline=min(baseline_s),
            target=1.15,
            repeats=repeats,
            notes=[
                "5 sentences, both models, all layers; ours = extraction + word alignment + "
                "items, baseline = forward passes of the already tokenised batches"
            ],
            details={"ours": summary(ours_s), "baseline": summary(baseline_s), "tokens": tokens},
        )
    ]


# --- warm_rerun (AppTest, in this process) --------------------------------------------------------


def _no_umap_warm_up(seed: int = 0) -> None:
    """Stands in for projection.warm_up_umap where its one-off compile would disturb timings."""


class _Patched:
    """Set an attribute for the duration of a ``with`` block."""

    def __init__(self, owner: Any, name: str, value: Any):
        self.owner, self.name, self.value = owner, name, value

    def __enter__(self):
        self.old = getattr(self.owner, self.name)
        setattr(self.owner, self.name, self.value)

    def __exit__(self, *exc):
        setattr(self.owner, self.name, self.old)


def _app_errors(at) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def measure_warm_rerun(bench: Bench) -> list[Result]:
    if not PROJECTION_PAGE.exists():
        return [unavailable("warm_rerun", "s", f"{PROJECTION_PAGE} not found (needs a checkout)")]
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from . import projection

    repeats = bench.repeats(quick=2, full=7)
    corpus = corpus_sentences()
    env = {"EMBEXPLORER_MODEL_A": bench.settings.model_names[0]}
    env["EMBEXPLORER_MODEL_B"] = bench.settings.model_names[1]
    saved_env = {key: os.environ.get(key) for key in env}
    saved_path = list(sys.path)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    text_s, layer_s = [], []
    try:
        with _Patched(projection, "warm_up_umap", _no_umap_warm_up):
            st.cache_resource.clear()
            at = AppTest.from_file(str(PROJECTION_PAGE), default_timeout=APP_TIMEOUT_S).run()
            n_layers = len(at.sidebar.select_slider(key="layer_a").options) - 1
            for round_ in range(repeats + 1):  # the first round warms up and is not timed
                text = "\n".join(corpus[5 * round_ : 5 * round_ + 5])
                at.sidebar.text_area(key="text").set_value(text)
                seconds_text = time_once(at.run)
                layer = 1 + round_ % max(n_layers - 1, 1)
                at.sidebar.select_slider(key="layer_a").set_value(layer)
                seconds_layer = time_once(at.run)
                if errors := _app_errors(at):
                    raise RuntimeError(f"the Projection page failed: {errors[0]}")
                if round_:
                    text_s.append(seconds_text)
                    layer_s.append(seconds_layer)
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        st.cache_resource.clear()
    return [
        Result(
            "warm_rerun",
            "s",
            value=min(layer_s),
            baseline=min(text_s),
            target=0.2,
            repeats=repeats,
            notes=[
                "Projection page (AppTest), 5 new corpus sentences per text change; the UMAP "
                "warm-up thread is switched off here so its one-off compile is not timed"
            ],
            details={"layer_change": summary(layer_s), "text_change": summary(text_s)},
        )
    ]


# --- umap_first and peak_rss_mb (fresh app processes) ---------------------------------------------


def _warm_up_threads() -> list[threading.Thread]:
    """The app's background warm-up thread(s), whatever ui.py names them ("...warm-up")."""
    return [t for t in threading.enumerate() if "warm-up" in t.name]


def peak_rss_mb() -> tuple[float, float]:
    """This process's peak resident memory in MB: (VmHWM, ru_maxrss).

    On Linux ``ru_maxrss`` survives ``exec``: a child started from a big parent reports at least
    the parent's size at the fork. ``VmHWM`` belongs to the process's own address space, so it is
    the figure used where /proc exists; ``ru_maxrss`` is kept beside it.
    """
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    maxrss_mb = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss_mb, maxrss_mb
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), None)
    return (int(line.split()[1]) / 2**10 if line else maxrss_mb), maxrss_mb


def current_rss_mb() -> float | None:
    """This process's resident memory now (Linux), in MB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), None)
    return int(line.split()[1]) / 2**10 if line else None


def worker_app_session(config: dict[str, Any]) -> dict[str, Any]:
    """One app process: open the Projection page, optionally click UMAP at a set time, optionally
    render the Similarity page, and report times and peak memory."""
    import streamlit as st  # noqa: F401 - imported before the clock starts, as in a server
    import torch
    from streamlit.testing.v1 import AppTest

    from . import projection

    sys.path.insert(0, str(ROOT))
    out: dict[str, Any] = {}
    opened = time.perf_counter()
    if config["warm_up"]:
        real_warm_up = projection.warm_up_umap

        def timed_warm_up(*args, **kwargs):
            out["warm_up_started_s"] = time.perf_counter() - opened
            real_warm_up(*args, **kwargs)
            out["warm_up_finished_s"] = time.perf_counter() - opened

        projection.warm_up_umap = timed_warm_up
    else:
        projection.warm_up_umap = _no_umap_warm_up
    if not config.get("umap_disk_cache", True):
        projection.enable_umap_disk_cache = lambda: 0  # umap-learn as shipped: compiles in memory
    at = AppTest.from_file(str(PROJECTION_PAGE), default_timeout=APP_TIMEOUT_S).run()
    out["first_render_s"] = time.perf_counter() - opened
    out["rss_after_first_render_mb"] = current_rss_mb()
    if errors := _app_errors(at):
        raise RuntimeError(f"the Projection page failed: {errors[0]}")
    if config.get("umap_click_at") is not None:
        time.sleep(max(0.0, opened + config["umap_click_at"] - time.perf_counter()))
        out["clicked_at_s"] = time.perf_counter() - opened
        out["warm_up_running_at_click"] = any(t.is_alive() for t in _warm_up_threads())
        at.segmented_control(key="method").set_value("umap")
        out["umap_view_s"] = time_once(at.run)
        if errors := _app_errors(at):
            raise RuntimeError(f"the UMAP view failed: {errors[0]}")
    if config.get("similarity"):
        similarity = AppTest.from_file(str(SIMILARITY_PAGE), default_timeout=APP_TIMEOUT_S)
        out["similarity_render_s"] = time_once(similarity.run)
        if errors := _app_errors(similarity):
            raise RuntimeError(f"the Similarity page failed: {errors[0]}")
    for thread in _warm_up_threads():
        thread.join()  # the app compiles UMAP in every process: its memory belongs to the peak
    out["peak_rss_mb"], out["ru_maxrss_mb"] = peak_rss_mb()
    from .ui import cached_model

    weights = 0
    for name in config["models"]:
        model = cached_model(name).model
        weights += sum(p.numel() * p.element_size() for p in model.parameters())
    out["weights_mb"] = weights / 2**20
    out["device"] = cached_model(config["models"][0]).info.device
    out["torch_threads"] = torch.get_num_threads()
    return out


def measure_app_sessions(bench: Bench, selected: set[str]) -> list[Result]:
    """``umap_first`` and ``peak_rss_mb``: the warm session serves both when both are asked for."""
    names = [n for n in ("umap_first", "peak_rss_mb") if n in selected]
    if not PROJECTION_PAGE.exists():
        why = f"{PROJECTION_PAGE} not found (needs a checkout)"
        return [unavailable(n, "s" if n == "umap_first" else "MB", why) for n in names]
    models = list(bench.settings.model_names)
    results = []
    if "umap_first" in selected:
        rounds = bench.repeats(quick=1, full=2)
        warm_job = dict(
            models=models,
            warm_up=True,
            umap_click_at=UMAP_CLICK_AFTER_S,
            similarity="peak_rss_mb" in selected,
        )
        cold_job = dict(
            models=models, warm_up=False, umap_disk_cache=False, umap_click_at=0.0, similarity=False
        )
        side_by_side = bench.settings.quick
        # A server restart on an installed machine: one earlier app start filled the numba cache
        # (as the first start of any installation does); the baseline shares that cache, so
        # pynndescent's own cached code helps it too, but it compiles umap-learn as shipped.
        installed = bench.empty_numba_cache()
        bench.run_workers(
            [("app_session", dict(warm_job, umap_click_at=None, similarity=False))],
            numba_cache_dir=installed,
        )
        warm, cold, first_warm, first_cold = [], [], [], []
        for _ in range(rounds):
            warm.append(
                bench.run_workers([("app_session", warm_job)], numba_cache_dir=installed)[0]
            )
            cold.append(
                bench.run_workers([("app_session", cold_job)], numba_cache_dir=installed)[0]
            )
            # The very first start of a fresh installation: every process with an empty cache.
            sessions = bench.run_workers(
                [("app_session", dict(warm_job, similarity=False)), ("app_session", cold_job)],
                parallel=side_by_side,
            )
            first_warm.append(sessions[0])
            first_cold.append(sessions[1])
        click_note = (
            f"the click comes {UMAP_CLICK_AFTER_S:.0f} s after the Projection page first opens "
            "(or when its first render ends, if later); baseline: the same click in a fresh "
            "process with the warm-up off and umap-learn compiling in memory as shipped"
        )
        results.append(
            Result(
                "umap_first",
                "s",
                value=min(w["umap_view_s"] for w in warm),
                baseline=min(c["umap_view_s"] for c in cold),
                target=0.2,
                repeats=rounds,
                notes=[
                    "a server start on an installed machine: the numba disk cache was filled by "
                    "one earlier app start (pynndescent caches its code on disk; the app also "
                    "caches umap-learn's, projection.enable_umap_disk_cache); " + click_note,
                ],
                details={"with_warm_up": warm, "without_warm_up": cold},
            )
        )
        results.append(
            Result(
                "umap_first_cold",
                "s",
                value=min(w["umap_view_s"] for w in first_warm),
                baseline=min(c["umap_view_s"] for c in first_cold),
                repeats=rounds,
                notes=[
                    "the first start of a fresh installation: each process has its own empty "
                    "NUMBA_CACHE_DIR, so everything compiles (~30 s on 2 cores); " + click_note,
                ]
                + (
                    ["quick: the two processes ran side by side (about one core each)"]
                    if side_by_side
                    else []
                ),
                details={"with_warm_up": first_warm, "without_warm_up": first_cold},
            )
        )
    if "peak_rss_mb" in selected:
        if "umap_first" in selected:
            session = warm[0]
            how = (
                "read at the end of the first umap_first session (Projection PCA, UMAP, Similarity)"
            )
        else:
            (session,) = bench.run_workers(
                [
                    (
                        "app_session",
                        dict(
                            models=models,
                            # tiny: plumbing only, without the ~30 s UMAP compile
                            warm_up=not bench.settings.tiny,
                            umap_click_at=None,
                            similarity=True,
                        ),
                    )
                ]
            )
            how = "fresh app process: Projection and Similarity renders"
        results.append(
            Result(
                "peak_rss_mb",
                "MB",
                value=session["peak_rss_mb"],
                baseline=session["weights_mb"],
                target=1500.0,
                target_of="value",
                repeats=1,
                notes=[
                    f"peak RSS (VmHWM; ru_maxrss where /proc is missing) of the app process, "
                    f"{how}, after the background warm-up finished; baseline: both models' "
                    "weights"
                ],
                details={"session": session},
            )
        )
    return results


# --- permutations ---------------------------------------------------------------------------------


def permutation_problem(n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two related cosine similarity matrices over the same items."""
    from .geometry import similarity_matrix

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_items, 64))
    Y = X @ rng.standard_normal((64, 48)) + 3.0 * rng.standard_normal((n_items, 48))
    return similarity_matrix(X, "cosine"), similarity_matrix(Y, "cosine")


def measure_permutations(bench: Bench) -> list[Result]:
    from .rsa import mantel_loop_reference, mantel_p_value

    tiny = bench.settings.tiny
    n_items, permutations = (40, 200) if tiny else (200, 10_000)
    A, B = permutation_problem(n_items)
    repeats = bench.repeats(quick=3, full=5)
    ours_s = [
        time_once(lambda: mantel_p_value(A, B, "spearman", permutations, seed=0))
        for _ in range(repeats)
    ]
    loop_permutations = permutations if not bench.settings.quick else min(permutations, 300)
    loop_s = time_once(lambda: mantel_loop_reference(A, B, loop_permutations, seed=0))
    baseline = loop_s * permutations / loop_permutations
    same_p = mantel_p_value(A, B, "spearman", loop_permutations, 0) == mantel_loop_reference(
        A, B, loop_permutations, 0
    )
    notes = [f"{permutations:,} permutations, {n_items} items, Spearman; seconds"]
    if loop_permutations < permutations:
        notes.append(
            f"quick: the loop ran {loop_permutations} permutations ({loop_s:.2f} s), "
            f"extrapolated linearly to {permutations:,}"
        )
    return [
        Result(
            "permutations",
            "s",
            value=min(ours_s),
            baseline=baseline,
            repeats=repeats,
            notes=notes,
            details={
                "ours": summary(ours_s),
                "loop_permutations": loop_permutations,
                "loop_s": loop_s,
                "same_p_value": bool(same_p),
            },
        )
    ]


# --- layer_matrix ---------------------------------------------------------------------------------


def measure_layer_matrix(bench: Bench) -> list[Result]:
    try:
        from .layers import layer_rsa_matrix
    except ImportError as error:
        return [unavailable("layer_matrix", "s", f"embexplorer.layers is not available: {error}")]
    from .align import paired_items
    from .extract import extract_hidden_states
    from .geometry import preprocess, similarity_matrix
    from .rsa import rsa_score

    states = [extract_hidden_states(loaded, list(SENTENCES)) for loaded in bench.models]
    items_a, items_b = paired_items(*states, unit="word")

    def ours():
        return layer_rsa_matrix(
            items_a, items_b, metric="cosine", preprocessing="none", method="spearman"
        )

    def baseline():
        return [
            [
                rsa_score(
                    similarity_matrix(preprocess(a, "none"), "cosine"),
                    similarity_matrix(preprocess(b, "none"), "cosine"),
                    method="spearman",
                    permutations=0,
                    bootstraps=0,
                ).spearman
                for b in items_b.vectors
            ]
            for a in items_a.vectors
        ]

    repeats = bench.repeats(quick=2, full=7)
    ours_s, baseline_s = time_pair(
        ours, baseline, repeats, warm_up=0 if bench.settings.quick else 1
    )
    shape = (items_a.vectors.shape[0], items_b.vectors.shape[0])
    return [
        Result(
            "layer_matrix",
            "s",
            value=min(ours_s),
            baseline=min(baseline_s),
            repeats=repeats,
            notes=[
                f"{shape[0]} x {shape[1]} layers, {items_a.n_items} word items, cosine, "
                "Spearman; baseline: one rsa_score per layer pair (no permutations)"
            ],
            details={"ours": summary(ours_s), "baseline": summary(baseline_s)},
        )
    ]


# --- corpus ---------------------------------------------------------------------------------------


def _join_items(parts, repeat: int = 1):
    """Concatenate per-chunk Items (sentence numbers offset), then ``repeat`` the whole set as if
    from ``repeat`` x as many sentences."""
    from .align import Items

    parts = list(parts) * repeat
    offsets = np.cumsum([0] + [int(p.sentence.max()) + 1 if p.n_items else 0 for p in parts])
    return Items(
        unit=parts[0].unit,
        labels=[label for p in parts for label in p.labels],
        sentence=np.concatenate([p.sentence + o for p, o in zip(parts, offsets, strict=False)]),
        position=np.concatenate([p.position for p in parts]),
        vectors=np.concatenate([p.vectors for p in parts], axis=1),
        words=[word for p in parts for word in p.words],
    )


def last_layer_token_items(states):
    """Token items (the app's path) with only the last layer kept, so memory stays bounded."""
    from .align import token_items

    items = token_items(states)
    items.vectors = items.vectors[-1:].copy()
    return items


def scatter_all_tokens(
    items_pair, sentence_texts: list[str], colour_by: str = "sentence"
) -> dict[str, Any]:
    """2D PCA of each model's token items -> the two-panel figure -> its JSON, timed by stage."""
    from . import figures
    from .projection import PCAProjector

    stages = dict.fromkeys(("pca_s", "figure_s", "to_json_s"), 0.0)
    panels = []
    for items in items_pair:
        start = time.perf_counter()
        projection = PCAProjector(2).fit_transform(items.vectors[-1])
        stages["pca_s"] += time.perf_counter() - start
        panels.append(figures.PointSet.from_items(projection, items, sentence_texts))
    start = time.perf_counter()
    fig = figures.projection_figure(panels, titles=["A", "B"], colour_by=colour_by)
    stages["figure_s"] = time.perf_counter() - start
    start = time.perf_counter()
    json_chars = len(fig.to_json())
    stages["to_json_s"] = time.perf_counter() - start
    return dict(
        stages,
        points=sum(len(p.labels) for p in panels),
        traces=len(fig.data),
        figure_json_mb=json_chars / 2**20,
    )


def measure_corpus(bench: Bench) -> list[Result]:
    from .extract import extract_hidden_states

    sentences = corpus_sentences()
    quick, tiny = bench.settings.quick, bench.settings.tiny
    chunk = 16 if quick or tiny else 100
    n_chunks = 1 if tiny else (2 if quick else len(sentences) // chunk)
    models = bench.models
    for loaded in models:
        extract_hidden_states(loaded, sentences[:2])  # warm-up

    # Batched and one-at-a-time alternate chunk by chunk, so a noisy neighbour hits both alike.
    batched_s = single_s = token_items_s = 0.0
    batched_tokens = single_tokens = 0
    parts: list[list] = [[], []]
    for index in range(n_chunks):
        texts = sentences[index * chunk : (index + 1) * chunk]
        for which, loaded in enumerate(models):
            start = time.perf_counter()
            states = extract_hidden_states(loaded, texts, batch_size=16)
            batched_s += time.perf_counter() - start
            batched_tokens += states.n_tokens
            start = time.perf_counter()
            parts[which].append(last_layer_token_items(states))
            token_items_s += time.perf_counter() - start
            del states
            start = time.perf_counter()
            single_tokens += sum(
                extract_hidden_states(loaded, [text], batch_size=1).n_tokens for text in texts
            )
            single_s += time.perf_counter() - start
    n_done = n_chunks * chunk
    batched_rate, single_rate = batched_tokens / batched_s, single_tokens / single_s
    notes = [
        f"tokens/s over both models (special tokens counted, padding not); batched = "
        f"extract_hidden_states(batch_size=16), single = one call per sentence, alternating "
        f"in chunks of {chunk} sentences, {n_done} sentences each"
    ]
    if n_done < len(sentences):
        notes.append(
            f"{'tiny' if tiny else 'quick'}: rates measured on {n_done} sentences; the "
            "1,000-sentence times in the details are extrapolated from them"
        )
    per_sentence_tokens = batched_tokens / n_done
    throughput = Result(
        "corpus",
        "tokens/s",
        value=batched_rate,
        baseline=single_rate,
        repeats=1,
        notes=notes,
        details={
            "sentences": n_done,
            "batched": {"tokens": batched_tokens, "seconds": batched_s},
            "single": {"tokens": single_tokens, "seconds": single_s},
            "tokens_per_sentence_both_models": per_sentence_tokens,
            "corpus_extraction_s_batched": len(sentences) * per_sentence_tokens / batched_rate,
            "corpus_extraction_s_single": len(sentences) * per_sentence_tokens / single_rate,
        },
    )
    # The scatter of all tokens of 1,000 sentences. Quick: the extracted sentences repeated to
    # 200 sentences' worth, and the time scaled linearly to 1,000 (PCA and the figure are linear
    # in the number of points; the number of traces is bounded, so it is not scaled).
    target_sentences = n_done if tiny else (200 if quick else len(sentences))
    repeat = max(1, target_sentences // n_done)
    scale = 1.0 if tiny else len(sentences) / (n_done * repeat)
    items_pair = [_join_items(p, repeat) for p in parts]
    texts = [sentences[i % n_done] for i in range(n_done * repeat)]
    by_sentence = scatter_all_tokens(items_pair, texts, "sentence")
    by_sentence["token_items_s"] = token_items_s * repeat
    details = {"coloured_by_sentence": by_sentence, "scaled_by": scale}
    if not quick and not tiny:
        details["coloured_by_position"] = scatter_all_tokens(items_pair, texts, "position")
    computation = by_sentence["token_items_s"] + by_sentence["pca_s"]
    total = computation + by_sentence["figure_s"] + by_sentence["to_json_s"]
    scatter_notes = [
        f"{round(by_sentence['points'] * scale):,} token points in two panels, "
        f"{by_sentence['traces']:,} traces (coloured by sentence, the default): "
        "token items -> PCAProjector(2) -> projection_figure -> fig.to_json(); baseline: the "
        "computation alone (token items + PCA)"
    ]
    if scale != 1.0:
        scatter_notes.append(
            f"quick: timed on {by_sentence['points']:,} points ({n_done} extracted sentences "
            f"repeated {repeat} times) and scaled x{scale:.2f} to the 1,000-sentence corpus"
        )
    scatter = Result(
        "corpus_scatter",
        "s",
        value=total * scale,
        baseline=computation * scale,
        repeats=1,
        notes=scatter_notes,
        details=details,
    )
    return [throughput, scatter]


# --- the registry and the report ------------------------------------------------------------------

MEASUREMENTS = (
    "extract_overhead",
    "warm_rerun",
    "umap_first",
    "permutations",
    "layer_matrix",
    "peak_rss_mb",
    "corpus",
)
UNITS = {"umap_first": "s", "umap_first_cold": "s", "peak_rss_mb": "MB", "corpus": "tokens/s"}


def run_measurements(bench: Bench, selected: Sequence[str], log: Callable[[str], None]):
    """Run the selected measurements in the documented order; failures become 'error' rows."""
    chosen = set(selected)
    steps: list[tuple[str, Callable[[], list[Result]]]] = [
        ("extract_overhead", lambda: measure_extract_overhead(bench)),
        ("permutations", lambda: measure_permutations(bench)),
        ("layer_matrix", lambda: measure_layer_matrix(bench)),
        ("corpus", lambda: measure_corpus(bench)),
        ("warm_rerun", lambda: measure_warm_rerun(bench)),
        ("umap_first+peak_rss_mb", lambda: measure_app_sessions(bench, chosen)),
    ]
    results: list[Result] = []
    for key, step in steps:
        names = [n for n in key.split("+") if n in chosen]
        if not names:
            continue
        log(f"measuring {', '.join(names)}…")
        start = time.perf_counter()
        try:
            results.extend(step())
        except Exception as error:  # noqa: BLE001 - one failed measurement must not hide the rest
            message = " ".join(f"{type(error).__name__}: {error}".split())
            results.extend(
                Result(n, UNITS.get(n, "s"), status="error", notes=[message]) for n in names
            )
        log(f"  done in {time.perf_counter() - start:.1f} s")
    order = {name: index for index, name in enumerate(MEASUREMENTS)}
    return sorted(
        results, key=lambda r: order.get(r.name.split("_scatter")[0].removesuffix("_cold"), 99)
    )


def machine_info(device: str | None) -> dict[str, Any]:
    import torch
    import transformers

    info = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gib"] = None
    return info


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "tokens/s":
        return f"{value:,.0f} tok/s"
    if value >= 100:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def format_table(results: Sequence[Result]) -> str:
    rows = [("measurement", "value", "baseline", "ratio", "target", "met")]
    for r in results:
        if r.status != "ok":
            rows.append((r.name, r.status, "—", "—", _target(r), "—"))
            continue
        rows.append(
            (
                r.name,
                _number(r.value, r.unit),
                _number(r.baseline, r.unit),
                "—" if r.ratio is None else f"{r.ratio:.3g}",
                _target(r),
                {True: "yes", False: "NO", None: "—"}[r.met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _target(result: Result) -> str:
    if result.target is None:
        return "—"
    if result.target_of == "value":
        return f"≤ {_number(result.target, result.unit)}"
    return f"ratio ≤ {result.target:g}"


def format_report(report: dict[str, Any], results: Sequence[Result]) -> str:
    machine = report["machine"]
    models = report["models"]
    head = [
        f"embexplorer benchmark ({'quick' if report['quick'] else 'full'}"
        f"{', tiny plumbing check: numbers mean nothing' if report['size'] == 'tiny' else ''})",
        f"models: A = {models['a']}, B = {models['b']}"
        + (f" (random-weight {report['size']}-size stand-ins)" if models["stand_ins"] else ""),
        f"device: {machine['device']}{' (' + machine['cuda'] + ')' if machine['cuda'] else ''}; "
        f"{machine['cpu_count']} CPUs, torch threads {machine['torch_threads']}, "
        f"memory {machine['memory_gib']} GiB; python {machine['python']}, torch {machine['torch']}",
        f"load average (1, 5, 15 min): {machine['load_average_at_start']} at start, "
        f"{machine.get('load_average_1_5_15_min')} at the end (above the CPU count, other "
        "work inflates the timings)",
        "",
        format_table(results),
        "",
        "notes:",
    ]
    for r in results:
        for note in r.notes:
            head.append(f"- {r.name}: {note}")
    head.append(f"total {report['seconds']:.0f} s")
    return "\n".join(head)


# --- command line ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def _measurement_list(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown measurement(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MEASUREMENTS)}"
        )
    return names


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m embexplorer.bench",
        description="Time embexplorer against baselines measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and subsets (< 2 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        type=_measurement_list,
        metavar="NAMES",
        help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--size",
        choices=SIZES,
        default="full",
        help="stand-in size: full (real GPT-2 small / BERT-base shapes) or tiny (tests only)",
    )
    parser.add_argument(
        "--model-a",
        help="hub id or folder for model A (default: $EMBEXPLORER_MODEL_A, else a stand-in)",
    )
    parser.add_argument("--model-b", help="as --model-a, for model B")
    parser.add_argument("--repeats", type=_positive, help="runs per in-process timing")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    return parser


WORKERS = {"app_session": worker_app_session}


def _run_worker(name: str, raw_config: str) -> int:
    config = json.loads(raw_config)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    result = WORKERS[name](config)
    Path(config["result"]).write_text(json.dumps(_json_safe(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.worker:
            return _run_worker(*args.worker)
        return _main(args)
    except UsageError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    import transformers

    from .models import ENV_MODEL_A, ENV_MODEL_B, ModelLoadError, load_model

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    selected = args.only or list(MEASUREMENTS)
    given = (
        args.model_a or os.environ.get(ENV_MODEL_A, "").strip() or None,
        args.model_b or os.environ.get(ENV_MODEL_B, "").strip() or None,
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    # Given models are loaded first, so a bad name fails at once with one line and nothing else.
    try:
        loaded = [load_model(name) if name else None for name in given]
    except ModelLoadError as error:
        raise UsageError(str(error)) from error
    with tempfile.TemporaryDirectory(prefix="embexplorer-bench-") as tmp:
        workdir = Path(tmp)
        names = given
        if None in given:
            log(f"building {args.size}-size stand-in models in {workdir}…")
            standins = build_stand_ins(workdir, args.size)
            names = tuple(g or s for g, s in zip(given, standins, strict=True))
            loaded = [m or load_model(name) for m, name in zip(loaded, names, strict=True)]
        settings = Settings(
            quick=args.quick,
            size=args.size,
            repeats=args.repeats or 0,
            model_names=names,
            stand_ins=None in given,
        )
        bench = Bench(settings, workdir, models=tuple(loaded))
        device = bench.device
        results = run_measurements(bench, selected, log)
        report = {
            "quick": args.quick,
            "size": args.size,
            "models": {
                "a": names[0],
                "b": names[1],
                "stand_ins": settings.stand_ins,
                "a_is_stand_in": given[0] is None,
                "b_is_stand_in": given[1] is None,
            },
            "machine": dict(machine_info(device), load_average_at_start=load_at_start),
            "seconds": time.perf_counter() - started,
            "measurements": {r.name: r.to_dict() for r in results},
        }
    if args.json:
        print(json.dumps(_json_safe(report), indent=2))
    else:
        print(format_report(report, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
