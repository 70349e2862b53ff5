"""The row operators' performance targets, checked against `torchlab bench` results:

- forward >= 90% of the copy bandwidth for every row length >= 4096;
- forward+backward >= 80% of the copy bandwidth (minimum byte model), same lengths;
- every point >= 0.95x torch.compile;
- geometric mean over the sweep of the forward+backward speedup >= 1.15x compile and
  >= 1.5x eager;
- the small shape (2048x1024) no slower than eager.

    python benchmarks/row_targets.py bench.json [bench.json ...] > targets.md
"""

import json
import statistics
import sys

SMALL = [2048, 1024]


def missed(value: float, target: float, places: int) -> str:
    """A value below its target, rounded to `places`, or to as many more as keep it below
    (at three: 1.1395 reads 1.140; 1.1496 reads 1.1496, not 1.150)."""
    while round(value, places) >= target and places < 10:
        places += 1
    return f"{value:.{places}f}"


def cell(mean: float | None, target: float) -> str:
    if mean is None:
        return "no baseline"
    return f"{mean:.2f}x" if mean >= target else f"{missed(mean, target, 3)}x (miss)"


def main(paths: list[str]) -> None:
    records = []
    for path in paths:
        records += [r for r in json.load(open(path))["records"] if r["provider"] == "torchlab"]
    misses, means = [], []
    for op in dict.fromkeys(r["op"] for r in records):
        for dtype in dict.fromkeys(r["dtype"] for r in records if r["op"] == op):
            rows = [r for r in records if r["op"] == op and r["dtype"] == dtype]
            for r in rows:
                point = f"{op} {dtype} {r['mode']} {r['case']}"
                if "error" in r:
                    misses.append((point, r["error"]))
                    continue
                pct, vs_compile = r["pct_of_ceiling"], r["speedup_vs_compile"]
                if r["shape"] == SMALL:
                    if r["speedup_vs_eager"] < 1:
                        of_eager = missed(r["speedup_vs_eager"], 1, 2)
                        misses.append((point, f"{of_eager}x eager (small shape)"))
                elif r["shape"][-1] >= 4096:
                    floor = 90 if r["mode"] == "fwd" else 80
                    if pct < floor:
                        of_copy = missed(pct, floor, 1)
                        misses.append((point, f"{of_copy}% of the copy (target {floor}%)"))
                if vs_compile is not None and vs_compile < 0.95:
                    of_compile = missed(vs_compile, 0.95, 3)
                    misses.append((point, f"{of_compile}x compile (target 0.95x)"))
            sweep = [r for r in rows if r["mode"] == "fwd+bwd" and r["shape"] != SMALL]

            def geomean(key):  # over the points where the baseline passed its gate and ran
                speedups = [r[key] for r in sweep if r.get(key)]
                return statistics.geometric_mean(speedups) if speedups else None
            if sweep:
                means.append((op, dtype, geomean("speedup_vs_compile"), geomean("speedup_vs_eager")))
    print("## Geometric mean of the forward+backward speedup over the sweep\n")
    print("| op | dtype | vs compile (target 1.15) | vs eager (target 1.5) |")
    print("|---|---|---|---|")
    for op, dtype, c, e in means:
        print(f"| {op} | {dtype} | {cell(c, 1.15)} | {cell(e, 1.5)} |")
    print(f"\n## Points that miss a target ({len(misses)})\n")
    print("| point | measured |")
    print("|---|---|")
    for point, what in misses:
        print(f"| {point} | {what.replace('|', '/')} |")


if __name__ == "__main__":
    main(sys.argv[1:])
