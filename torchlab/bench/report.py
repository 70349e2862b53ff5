"""Reports of a benchmark run: JSON (everything), CSV (the records), Markdown (a summary
and the full table), a plot per operator, and the table printed at the end of a run."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

from torchlab.bench import MODES

# The CSV's columns, in order; the JSON records hold these and a few more.
COLUMNS = ("op", "provider", "version", "mode", "dtype", "shape", "case", "median_ms", "min_ms",
           "max_ms", "spread", "reps", "timing_method", "launch_bound", "events_ms", "bytes",
           "flops", "gbps", "tflops", "ceiling", "pct_of_ceiling", "speedup_vs_eager",
           "speedup_vs_compile", "compile_s", "error")


def write(result: dict, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Writes bench.json, bench.csv, bench.md and (with matplotlib) <op>.png to out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "bench.json", out / "bench.csv", out / "bench.md"]
    written[0].write_text(json.dumps(result, indent=1) + "\n")
    write_csv(result["records"], written[1])
    plot_files = write_plots(result, out) if plots else []
    if plots and not plot_files and result["records"]:
        print("torchlab bench: no plots: matplotlib is not installed (pip install matplotlib)",
              file=sys.stderr)
    written[2].write_text(markdown(result, [p.name for p in plot_files]))
    return written + plot_files


def write_csv(records: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "shape": "x".join(map(str, r["shape"]))})


def _fmt(value, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:{spec}}{suffix}"


def _throughput(r: dict) -> str:
    if r.get("gbps") is not None:
        return _fmt(r["gbps"], ".3g", " GB/s")
    return _fmt(r.get("tflops"), ".3g", " TFLOP/s")


def _provider(r: dict) -> str:
    return f"{r['provider']}:{r['version']}" if r["version"] else r["provider"]


def _telemetry(env: dict) -> str:
    return (f"SM clock {env.get('sm_clock_mhz', '?')} MHz of {env.get('sm_clock_max_mhz', '?')}, "
            f"{env.get('temperature_c', '?')} °C, {_fmt(env.get('power_w'), '.0f', ' W')}")


def environment_lines(result: dict) -> list[str]:
    env, ceil = result["environment"], result["ceilings"]
    if env["device"] == "cuda":
        where = (f"{env['gpu']} ({env['sms']} SMs), driver {env.get('driver', '?')}; "
                 f"{_telemetry(env)} after the ceilings, "
                 f"{_telemetry(result.get('environment_end', {}))} at the end")
    else:
        where = f"CPU {env['cpu']}, {env['threads']} threads"
    peak = env.get("peak_bandwidth_gbps")
    matmul = ", ".join(f"{d} {t:.1f}" for d, t in ceil["matmul_tflops"].items())
    return [
        f"{where}; torch {env['torch']}, CUDA {env['cuda']}, Python {env['python']}, "
        f"commit {env.get('git_commit') or '?'}.",
        "",
        f"Ceilings measured in this run: copy {ceil['copy_gbps']:.0f} GB/s (read + write"
        + "".join(f"; {way} {gbps:.0f}" for way, gbps in ceil.get("copy_by", {}).items()) + ")"
        + (f", theoretical peak {peak:.0f} GB/s" if peak else "")
        + f"; matrix product {matmul} TFLOP/s (float32 without TF32).",
    ]


def summary_rows(records: list[dict]) -> list[list[str]]:
    """One row per point for torchlab's providers (for every provider, if torchlab was not
    run): time, throughput, ceiling, speedups."""
    shown = "torchlab" if any(r["provider"] == "torchlab" for r in records) else None
    rows = []
    for r in records:
        if shown and r["provider"] != shown:
            continue
        base = [r["op"], _provider(r), r["mode"], r["dtype"], r["case"]]
        if "error" in r:
            rows.append(base + [r["error"].split(":")[0], "", "", "", ""])
            continue
        rows.append(base + [_fmt(r["median_ms"], ".4f"), _throughput(r),
                            _fmt(r["pct_of_ceiling"], ".1f", f"% of {r['ceiling']}"),
                            _fmt(r["speedup_vs_eager"], ".2f", "×"),
                            _fmt(r["speedup_vs_compile"], ".2f", "×")])
    return rows


SUMMARY_HEADER = ["op", "provider", "mode", "dtype", "case", "median ms", "throughput",
                  "of ceiling", "vs eager", "vs compile"]


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(result: dict, plot_names: list[str] = ()) -> str:
    records = result["records"]
    ops = ", ".join(result["options"]["ops"])
    lines = [f"# torchlab bench: {ops}", ""] + environment_lines(result) + [
        "",
        "Timings: the median of the repetitions, caches flushed before each. Launch-bound "
        "points (the CPU queues the work no faster than the GPU runs it) are timed as CUDA "
        "graph replays (timing: graph), with the events' median, launch cost included, beside "
        "them (events ms); bwd points are never replayed, and are marked where launch-bound. "
        "Where two providers were timed differently, their speedup compares events' medians. "
        "Bytes are the minimum each mode must "
        "move (each input read once, each output written once; fwd+bwd adds the two passes). "
        f"The run took {result['elapsed_s']:.0f} s.",
        "", "## torchlab", ""]
    lines += _markdown_table(SUMMARY_HEADER, summary_rows(records))
    lines += ["", "## Every provider", ""]
    header = ["op", "provider", "mode", "dtype", "case", "median ms", "spread", "timing",
              "events ms", "throughput", "of ceiling", "vs eager", "vs compile", "compile s"]
    rows = []
    for r in records:
        base = [r["op"], _provider(r), r["mode"], r["dtype"], r["case"]]
        if "error" in r:
            rows.append(base + [r["error"]] + [""] * 8)
            continue
        method = r["timing_method"]
        if r["launch_bound"] and method == "events":
            method += " (launch-bound)"
        rows.append(base + [
            _fmt(r["median_ms"], ".4f"), f"{r['spread']:.0%}", method,
            _fmt(r.get("events_ms"), ".4f"), _throughput(r),
            _fmt(r["pct_of_ceiling"], ".1f", "%"), _fmt(r["speedup_vs_eager"], ".2f", "×"),
            _fmt(r["speedup_vs_compile"], ".2f", "×"), _fmt(r.get("compile_s"), ".1f")])
    lines += _markdown_table(header, rows)
    for name in plot_names:
        lines += ["", f"![{name}]({name})"]
    return "\n".join(lines) + "\n"


def console_table(result: dict) -> str:
    rows = [SUMMARY_HEADER] + summary_rows(result["records"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(environment_lines(result) + [""] + lines)


def _is_row_sweep(records: list[dict]) -> bool:
    """Whether most cases have the same number of elements and differ in their last
    dimension (a row operator's sweep over row lengths), so that size cannot order them on
    a plot."""
    sizes = Counter(math.prod(r["shape"]) for r in records)
    common = sizes.most_common(1)[0][0]
    return len({r["shape"][-1] for r in records if math.prod(r["shape"]) == common}) >= 3


def write_plots(result: dict, out: Path) -> list[Path]:
    """One figure per operator: throughput against problem size, a panel per mode and
    dtype, a line per provider, the ceiling drawn in. Skipped without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    ceil = result["ceilings"]
    by_op = defaultdict(list)
    for r in result["records"]:
        if "error" not in r:
            by_op[r["op"]].append(r)
    files = []
    for op, records in by_op.items():
        modes = sorted({r["mode"] for r in records}, key=MODES.index)
        dtypes = sorted({r["dtype"] for r in records})
        fig, axes = plt.subplots(len(modes), len(dtypes), squeeze=False, sharex=True,
                                 figsize=(4.2 * len(dtypes), 3.2 * len(modes)))
        memory = records[0]["ceiling"] == "copy"
        by_row_length = _is_row_sweep(records)
        if by_row_length:  # a sweep over row lengths at one size: plot that size's cases
            elements = Counter(math.prod(r["shape"]) for r in records).most_common(1)[0][0]
            records = [r for r in records if math.prod(r["shape"]) == elements]
        palette = plt.get_cmap("tab10").colors
        colors = {p: palette[i % len(palette)]
                  for i, p in enumerate(sorted({_provider(r) for r in records}))}
        for row, mode in enumerate(modes):
            for col, dtype in enumerate(dtypes):
                ax = axes[row][col]
                lines = defaultdict(list)
                for r in records:
                    if r["mode"] == mode and r["dtype"] == dtype:
                        params = " ".join(f"{k}={v}" for k, v in r["params"].items())
                        size = r["shape"][-1] if by_row_length else (
                            r["bytes"] if memory else r["flops"])
                        lines[(_provider(r), params)].append(
                            (size, r["gbps"] if memory else r["tflops"]))
                default_params = min((p for _, p in lines), default="")
                for (provider, params), points in sorted(lines.items()):
                    points.sort()
                    other = params != default_params  # a parameter variant: dashed, squares
                    ax.plot(*zip(*points), color=colors[provider], linestyle="--" if other else "-",
                            marker="s" if other else "o", markersize=4,
                            label=f"{provider} ({params})" if other else provider)
                if memory:
                    ax.axhline(ceil["copy_gbps"], color="black", linestyle="--", linewidth=1,
                               label=f"copy {ceil['copy_gbps']:.0f} GB/s")
                else:
                    name = next(r["ceiling"] for r in records if r["dtype"] == dtype)
                    tflops = ceil["matmul_tflops"][name.removeprefix("matmul ")]
                    ax.axhline(tflops, color="black", linestyle="--", linewidth=1,
                               label=f"{name} {tflops:.0f} TFLOP/s")
                ax.set_xscale("log", base=2)
                ax.set_title(f"{mode}, {dtype}", fontsize=10)
                ax.set_ylim(bottom=0)
                ax.grid(alpha=0.3)
                if col == 0:
                    ax.set_ylabel("GB/s" if memory else "TFLOP/s")
                if row == len(modes) - 1:
                    ax.set_xlabel("row length (equal sizes)" if by_row_length
                                  else "bytes moved per call" if memory else "FLOPs per call")
        by_label = {}
        for ax in axes.flat:  # every panel's lines, once each
            for handle, label in zip(*ax.get_legend_handles_labels()):
                by_label.setdefault(label, handle)
        labels, handles = list(by_label), list(by_label.values())
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5),
                   fontsize=9, frameon=False)
        where = result["environment"].get("gpu") or result["environment"].get("cpu", "")
        fig.suptitle(f"{op} on {where}", fontsize=11)
        fig.tight_layout(rect=(0, 0.06, 1, 0.97))
        path = out / f"{op}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files
