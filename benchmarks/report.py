"""The report: machine info and the printed table of results."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import Result


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
        f"tokenizers: A = {models['tokenizers']['a']}, B = {models['tokenizers']['b']}",
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
    head.extend(f"- models: {note}" for note in models["notes"])
    for r in results:
        for note in r.notes:
            head.append(f"- {r.name}: {note}")
    head.append(f"total {report['seconds']:.0f} s")
    return "\n".join(head)
