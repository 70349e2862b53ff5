"""A lesson: steps that each explain, run their code, and check the claim they make."""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch


class CheckFailed(AssertionError):
    """A step's claim did not hold."""


def check(condition: object, claim: str) -> None:
    """State a claim and check it: the step fails, naming the claim, if it is false."""
    if not condition:
        raise CheckFailed(claim)
    print(f"  ✔ {claim}")


@dataclass
class Step:
    title: str
    run: Callable[[], None]
    needs: str  # "cpu" or "cuda"

    @property
    def explanation(self) -> str:
        return inspect.cleandoc(self.run.__doc__ or "")

    @property
    def code(self) -> str:
        """The step's body as the learner would type it: no decorator, def line or docstring."""
        source = textwrap.dedent(inspect.getsource(self.run))
        body = source.split("\n")
        start = next(i for i, line in enumerate(body) if line.startswith("def ")) + 1
        code = textwrap.dedent("\n".join(body[start:]))
        if self.run.__doc__:
            code = code.split('"""', 2)[2]
        return code.strip("\n")


@dataclass
class StepResult:
    step: Step
    status: str  # "passed", "failed" or "skipped"
    output: str
    seconds: float


class Lab:
    def __init__(self, number: int, title: str):
        self.number = number
        self.title = title
        self.steps: list[Step] = []

    def step(self, title: str, *, needs: str = "cpu") -> Callable:
        """Decorator: the function is a step; its docstring explains, its body runs."""
        def register(run: Callable[[], None]) -> Callable[[], None]:
            self.steps.append(Step(title, run, needs))
            return run
        return register

    def run_step(self, step: Step) -> StepResult:
        if step.needs == "cuda" and not torch.cuda.is_available():
            return StepResult(step, "skipped", "needs a CUDA GPU: skipped\n", 0.0)
        output = io.StringIO()
        start = time.perf_counter()
        status = "passed"
        with contextlib.redirect_stdout(output):
            try:
                step.run()
            except CheckFailed as failed:
                print(f"  ✘ claim does not hold: {failed}")
                status = "failed"
            except Exception:
                print(textwrap.indent(traceback.format_exc(), "  "))
                status = "failed"
        return StepResult(step, status, output.getvalue(), time.perf_counter() - start)

    def main(self, argv: list[str] | None = None) -> int:
        """`python labs/NN_<topic>/lesson.py [--all] [--step K]` runs the lab directly."""
        from torchlab.labs.runner import run_lab_cli

        return run_lab_cli(self, argv if argv is not None else sys.argv[1:])
