"""The `torchlab` command.

A subcommand is a function ``(args) -> exit status`` and its ``add_parser`` call in
``build_parser``; the function imports what it needs, so one subcommand's imports never slow
down or break another.
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
