"""Two benchmark runs side by side, point by point: what a change to a kernel did, measured
on one machine. Run `torchlab bench` on the build before the change and on the build after
it, on the same GPU, then compare their bench.json files (`torchlab compare`).

Each run is timed against its own ceiling, so its percent of the ceiling stands as it was
measured; the ratio of a point is that of its two median times. The header warns where the
two runs differ in GPU, or in copy bandwidth enough to matter.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

# Copy bandwidths that differ by more than this make the two runs' times hard to compare.
CEILING_TOLERANCE = 0.03


def load(path: str | Path) -> dict:
    """A bench.json file, or a folder holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / "bench.json"
    run = json.loads(path.read_text())
    missing = [k for k in ("environment", "ceilings", "records") if k not in run]
    if missing:
        raise ValueError(f"not a `torchlab bench` result: no {', '.join(missing)}")
    return run


def _key(r: dict) -> tuple:
    return (r["op"], r["provider"], r["version"], r["mode"], r["dtype"], r["case"])


def _point(r: dict) -> str:
    version = f" v{r['version']}" if r["version"] else ""
    return f"{r['op']}{version} {r['dtype']} {r['mode']} {r['case']}"


def _describe(run: dict) -> str:
    env, ceilings = run["environment"], run["ceilings"]
    gpu = env.get("gpu") or env.get("cpu") or env.get("device", "?")
    copy = ceilings.get("copy_gbps")
    copy_text = f", copy {copy:.0f} GB/s" if copy else ""
    return f"{gpu}, commit {env.get('git_commit') or '?'}{copy_text}"


def warnings(before: dict, after: dict) -> list[str]:
    """What differs between the two runs' machines enough to doubt a comparison of times."""
    found = []
    gpu_before, gpu_after = before["environment"].get("gpu"), after["environment"].get("gpu")
    if gpu_before != gpu_after:
        found.append(f"the runs are on different GPUs ({gpu_before} and {gpu_after})")
    copy_before = before["ceilings"].get("copy_gbps")
    copy_after = after["ceilings"].get("copy_gbps")
    if copy_before and copy_after and abs(copy_after / copy_before - 1) > CEILING_TOLERANCE:
        found.append(f"the copy bandwidth differs by {100 * (copy_after / copy_before - 1):+.1f}% "
                     f"({copy_before:.0f} and {copy_after:.0f} GB/s)")
    return found


def rows(before: dict, after: dict, provider: str = "torchlab") -> list[dict]:
    """Every point of `provider` in either run, in the after run's order (then the points
    only the before run has): both records, and after's speedup over before (None unless
    both were timed)."""
    def of(run):
        return {_key(r): r for r in run["records"] if r["provider"] == provider}

    old, new = of(before), of(after)
    out = []
    for key in list(new) + [k for k in old if k not in new]:
        b, a = old.get(key), new.get(key)
        timed = all(r is not None and "error" not in r and r.get("median_ms") for r in (b, a))
        out.append({"point": _point(a or b), "before": b, "after": a,
                    "speedup": b["median_ms"] / a["median_ms"] if timed else None})
    return out


def _cell(r: dict | None, pct: bool = False) -> str:
    if r is None:
        return "not run"
    if "error" in r:
        return r["error"].split(":")[0]
    if pct:
        value = r.get("pct_of_ceiling")
        return "—" if value is None else f"{value:.1f}%"
    return f"{r['median_ms']:.4g}"


def markdown(before: dict, after: dict, provider: str = "torchlab") -> str:
    """A summary (geometric mean of the speedup by operator, dtype and mode), then every
    point."""
    table = rows(before, after, provider)
    lines = ["# Before and after", "",
             f"- before: {_describe(before)}", f"- after: {_describe(after)}"]
    lines += [f"- warning: {w}" for w in warnings(before, after)]
    groups: dict[tuple, list[float]] = {}
    for row in table:
        r = row["after"] or row["before"]
        if row["speedup"] is not None:
            groups.setdefault((r["op"], r["dtype"], r["mode"]), []).append(row["speedup"])
    lines += ["", f"## {provider}: after's speedup over before (geometric mean)", "",
              "| op | dtype | mode | points | speedup | slowest | fastest |",
              "|---|---|---|---:|---:|---:|---:|"]
    for (op, dtype, mode), speedups in groups.items():
        mean = statistics.geometric_mean(speedups)
        lines.append(f"| {op} | {dtype} | {mode} | {len(speedups)} | {mean:.3f}x | "
                     f"{min(speedups):.3f}x | {max(speedups):.3f}x |")
    lines += ["", "## Every point", "",
              "| point | before ms | after ms | speedup | before, % of ceiling | "
              "after, % of ceiling |",
              "|---|---:|---:|---:|---:|---:|"]
    for row in table:
        speedup = "—" if row["speedup"] is None else f"{row['speedup']:.3f}x"
        lines.append(f"| {row['point']} | {_cell(row['before'])} | {_cell(row['after'])} | "
                     f"{speedup} | {_cell(row['before'], pct=True)} | "
                     f"{_cell(row['after'], pct=True)} |")
    return "\n".join(lines) + "\n"
