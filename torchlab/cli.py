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
