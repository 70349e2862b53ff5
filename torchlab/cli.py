"""The `torchlab` command.

A subcommand is a function ``(args) -> exit status`` and its ``add_parser`` call in
``build_parser``; the function imports what it needs, so one subcommand's imports never slow
down or break another. A problem the user can fix is raised as ``CommandError``: ``main``
prints its message, never a traceback.
"""

from __future__ import annotations

import argparse
import sys


def doctor(args: argparse.Namespace) -> int:
    from torchlab import doctor

    return doctor.run(as_json=args.json)


def lab(args: argparse.Namespace) -> int:
    from pathlib import Path

    from torchlab.labs import runner

    if args.lab_command == "list":
        return runner.list_labs()
    if args.lab_command == "run":
        return runner.run_lab(runner.load_lab(args.number), step=args.step, all_steps=args.all)
    directory = Path(args.dir) if args.dir else None
    if args.lab_command == "exercise":
        return runner.write_exercise(args.number, directory)
    return runner.grade(args.number, directory, args.task, reference=args.reference)


class CommandError(Exception):
    """A problem the user can act on: ``main`` prints the message, no traceback, and exits
    with ``status`` (2: the command line; 1: the machine or the operator)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def bench(args: argparse.Namespace) -> int:
    from torchlab.bench import report, runner

    device = _device(args.device)
    chosen = list(_specs(args.ops or None, what="benchmark").values())
    print(f"Benchmarking {', '.join(s.op for s in chosen)} on {device} "
          f"({args.shapes} shapes; {', '.join(args.dtype)}; {', '.join(args.mode)}; "
          f"providers {', '.join(args.providers)}). Measuring the ceilings first.",
          file=sys.stderr)
    result = runner.run(chosen, device=device, dtypes=args.dtype, modes=args.mode,
                        shapes=args.shapes, providers=args.providers)
    print(report.console_table(result))
    files = report.write(result, args.out)
    print(f"\nWrote {', '.join(str(f) for f in files)}")
    if any("error" in r for r in result["records"]):
        print("Some providers were wrong or failed: see the error column.", file=sys.stderr)
        return 1
    return 0


def compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from torchlab.bench import compare as comparison

    runs = []
    for path in (args.before, args.after):
        try:
            runs.append(comparison.load(path))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read a benchmark run from {path}: {error}")
    text = comparison.markdown(*runs, provider=args.provider)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


def profile(args: argparse.Namespace) -> int:
    import torch

    from torchlab.bench import runner
    from torchlab.bench.spec import DTYPES, Case

    device = _device(args.device)
    spec = _specs([args.op], what="operator")[args.op]
    if (args.ncu or args.workload_only) and device != "cuda":
        raise CommandError("--ncu: Nsight Compute profiles CUDA kernels, and there is no CUDA "
                           "GPU here.")
    default = spec.cases("quick", device)[0]
    try:
        shape = tuple(int(n) for n in args.shape.split("x")) if args.shape else default.shape
        if any(n < 1 for n in shape):
            raise ValueError
        params = dict(default.params) | dict(p.split("=", 1) for p in args.param)
    except ValueError:
        raise CommandError(f"--shape is positive sizes joined by 'x' (e.g. 4096x4096), got "
                           f"{args.shape!r}; --param is KEY=VALUE, got {args.param}") from None
    case = Case(shape, params)
    dtype_name = args.dtype or ("bfloat16" if device == "cuda" else "float32")
    providers = runner.make_providers(spec, case, [args.provider])
    provider = next((p for p in providers if p.version == args.version), None)
    if provider is None:
        raise CommandError(f"{args.op} has no version {args.version!r}; it has: "
                           f"{', '.join(repr(p.version) for p in providers)}")
    label = f"{args.op} {provider.label} {args.mode} {dtype_name} {case.label}"
    try:
        prepared = runner.prepare(spec, case, DTYPES[dtype_name], device, [args.mode],
                                  with_reference=False)
        fn = runner.workload(spec, provider, prepared, args.mode)
        fn()  # bad parameters fail here, with the operator's own message
    except Exception as error:
        raise CommandError(f"{label} failed: {str(error).strip().splitlines()[0]}", 1) from None

    if args.workload_only:  # the process ncu watches: warmed up above, then the profiled calls
        torch.cuda.synchronize()
        with torch.cuda.profiler.profile():  # cudaProfilerStart/Stop: what ncu profiles
            for _ in range(args.reps):
                fn()
            torch.cuda.synchronize()
        return 0
    if args.ncu:
        return _run_ncu(args, provider, label)

    from pathlib import Path

    from torchlab.profile import torch_profiler

    trace = Path(args.out) / f"trace-{args.op}-{args.mode.replace('+', '_')}-{dtype_name}.json"
    print(f"Profiling {label} on {device}, {args.reps} repetitions after a warm-up.")
    rows = torch_profiler.run(fn, device=device, label=label, reps=args.reps, trace=trace)
    print(torch_profiler.format_table(rows, device=device, reps=args.reps))
    print(f"\nChrome trace: {trace} (open it in https://ui.perfetto.dev or chrome://tracing)")
    return 0


def _run_ncu(args: argparse.Namespace, provider, label: str) -> int:
    import subprocess
    from pathlib import Path

    from torchlab.profile import ncu

    try:
        ncu_path = ncu.find_ncu()
    except ncu.NcuUnavailable as error:
        raise CommandError(f"--ncu: {error}") from None
    argv = [a for a in args.argv if a != "--ncu"]
    program = [sys.executable, "-m", "torchlab.cli", *argv, "--workload-only"]
    # Only torchlab's own kernels, or (for the other providers) every kernel of the workload.
    regex = "torchlab::" if provider.name == "torchlab" else None
    cmd = ncu.command(ncu_path, program, kernel_regex=regex, launch_count=args.ncu_launches)
    print(f"Running Nsight Compute on {label}:\n  {' '.join(cmd)}", flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"ncu-{args.op}-{args.mode.replace('+', '_')}.csv"
    raw.write_text(done.stdout)
    kernels = ncu.parse_csv(done.stdout)
    if done.returncode != 0 or not kernels:
        print(f"ncu exited with status {done.returncode}; its output is in {raw}. The end of "
              f"its messages:\n{done.stderr[-2000:] or done.stdout[-2000:]}", file=sys.stderr)
    print(ncu.format_report(kernels))
    print(f"\nncu's CSV: {raw}")
    return 0 if done.returncode == 0 and kernels else 1


def _device(requested: str | None) -> str:
    """The device to run on: the one asked for, else the GPU if torch sees one."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise CommandError(
            f"--device cuda, but torch sees no CUDA GPU here (torch {torch.__version__}, CUDA "
            f"build: {torch.version.cuda or 'no'}). Run `torchlab doctor` to see why, or use "
            "--device cpu.")
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def _specs(ops: list[str] | None, *, what: str) -> dict:
    """The benchmark specs of ``ops`` (each once; all when None), by operator name."""
    import torchlab

    if torchlab.extension_error is not None:
        raise CommandError(f"the compiled extension did not load ({torchlab.extension_error}). "
                           "Run `torchlab doctor` to see why and how to fix it.", 1)
    from torchlab.bench import spec

    available = spec.specs()
    unknown = [op for op in ops or [] if op not in available]
    if unknown:
        raise CommandError(f"no {what} {', '.join(unknown)}; there are: {', '.join(sorted(available))}")
    return {op: available[op] for op in dict.fromkeys(ops or available)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchlab", description="A hands-on lab for PyTorch internals and custom GPU kernels.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    parser_doctor = commands.add_parser(
        "doctor", help="check that this machine can build and run torchlab, and say how to fix it",
        description="Check the Python, torch, CUDA toolkit, compilers, GPUs and the compiled "
                    "extension; exit status 1 if torchlab cannot be used.")
    parser_doctor.add_argument("--json", action="store_true",
                               help="print the facts and findings as JSON")
    parser_doctor.set_defaults(handler=doctor)

    parser_lab = commands.add_parser("lab", help="step through the labs, write and grade exercises")
    labs = parser_lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)
    labs.add_parser("list", help="the labs, what each needs, and your progress")
    run = labs.add_parser("run", help="step through lab N, checking each claim")
    run.add_argument("number", type=int, metavar="N")
    run.add_argument("--step", type=int, metavar="K", help="run step K only")
    run.add_argument("--all", action="store_true",
                     help="run straight through, without waiting between steps")
    exercise = labs.add_parser("exercise", help="write lab N's exercise workspace")
    exercise.add_argument("number", type=int, metavar="N")
    exercise.add_argument("--dir", help="where (default ./torchlab-exercises/NN_topic)")
    check = labs.add_parser("check", help="build and grade lab N's exercises")
    check.add_argument("number", type=int, metavar="N")
    check.add_argument("--dir", help="the workspace (default ./torchlab-exercises/NN_topic)")
    check.add_argument("--task", metavar="T", help="grade task T only")
    check.add_argument("--reference", action="store_true",
                       help="grade the lab's reference solution instead (it passes every task)")
    parser_lab.set_defaults(handler=lab)

    from torchlab.bench import DEFAULT_PROVIDERS, DTYPE_NAMES, MODES, PROVIDERS, SHAPE_SETS

    parser_bench = commands.add_parser(
        "bench", help="time torchlab's operators against native PyTorch, eager and compiled",
        description="Check every provider against a float64 reference, then time it, beside "
                    "the copy bandwidth and matrix-product rates measured in the same run. "
                    "Writes bench.json, bench.csv, bench.md and a plot per operator to --out.")
    parser_bench.add_argument("ops", nargs="*", metavar="OP",
                              help="operators to benchmark (default: all)")
    parser_bench.add_argument("--dtype", nargs="+", choices=DTYPE_NAMES, default=list(DTYPE_NAMES))
    parser_bench.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES))
    parser_bench.add_argument("--shapes", choices=SHAPE_SETS, default="quick",
                              help="the sweep: quick (a few shapes) or full (default: quick)")
    parser_bench.add_argument("--providers", nargs="+", choices=PROVIDERS,
                              default=list(DEFAULT_PROVIDERS),
                              help="compile-max (max-autotune-no-cudagraphs) is slow to "
                                   "compile and off by default")
    parser_bench.add_argument("--device", choices=("cuda", "cpu"),
                              help="default: cuda if torch sees a GPU, else cpu")
    parser_bench.add_argument("--out", default="benchmarks/results/local",
                              help="where the reports go (default: benchmarks/results/local)")
    parser_bench.set_defaults(handler=bench)

    parser_compare = commands.add_parser(
        "compare", help="two benchmark runs side by side: what a change did, point by point",
        description="Compare two `torchlab bench` runs of the same points (the build before a "
                    "change and the build after it, on one GPU): after's speedup over before "
                    "at every point, its geometric mean by operator, dtype and mode, and each "
                    "run's percent of its own ceiling.")
    parser_compare.add_argument("before", metavar="BEFORE",
                                help="the first run's bench.json, or its folder")
    parser_compare.add_argument("after", metavar="AFTER",
                                help="the second run's bench.json, or its folder")
    parser_compare.add_argument("--provider", choices=PROVIDERS, default="torchlab",
                                help="whose points to compare (default: torchlab)")
    parser_compare.add_argument("--out", help="also write the Markdown to this file")
    parser_compare.set_defaults(handler=compare)

    parser_profile = commands.add_parser(
        "profile", help="profile one operator: kernel table, Chrome trace, Nsight Compute",
        description="Run one operator's workload under torch.profiler (NVTX ranges around each "
                    "repetition): print the kernels it launched and write a Chrome trace. "
                    "With --ncu, read its kernels' hardware counters with Nsight Compute "
                    "instead and give a roofline verdict.")
    parser_profile.add_argument("op", metavar="OP")
    parser_profile.add_argument("--shape", help="e.g. 4096x4096 (default: the first quick case)")
    parser_profile.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                                help="an operator parameter, e.g. approximate=tanh")
    parser_profile.add_argument("--dtype", choices=DTYPE_NAMES,
                                help="default: bfloat16 on a GPU, float32 on the CPU")
    parser_profile.add_argument("--mode", choices=MODES, default="fwd")
    parser_profile.add_argument("--provider", choices=PROVIDERS, default="torchlab")
    parser_profile.add_argument("--version", default="",
                                help="a version of torchlab's ladder (default: the public op)")
    parser_profile.add_argument("--device", choices=("cuda", "cpu"))
    parser_profile.add_argument("--reps", type=int, default=5, help="profiled repetitions")
    parser_profile.add_argument("--ncu", action="store_true",
                                help="run Nsight Compute (ncu --clock-control none) instead")
    parser_profile.add_argument("--ncu-launches", type=int, default=6, metavar="N",
                                help="kernel launches ncu profiles (default: 6)")
    parser_profile.add_argument("--out", default="benchmarks/results/local",
                                help="where the trace and ncu's CSV go")
    parser_profile.add_argument("--workload-only", action="store_true", help=argparse.SUPPRESS)
    parser_profile.set_defaults(handler=profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"torchlab {args.command}: {error}", file=sys.stderr)
        return error.status


if __name__ == "__main__":
    sys.exit(main())
