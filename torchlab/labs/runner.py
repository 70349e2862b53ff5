"""`torchlab lab list | run | exercise | check`: finding labs, running their steps, writing
exercise workspaces, grading them, and remembering the learner's progress."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


from torchlab.labs.lesson import Lab, StepResult

# "// EXERCISE name:" starts a region whose code the stub replaces with a failing check;
# "// EXERCISE name [empty]:" one the stub leaves empty (registrations, which run as the
# library loads and must not throw).
EXERCISE_BEGIN = re.compile(r"^(\s*)// EXERCISE (\w+)( \[empty\])?:")
EXERCISE_END = re.compile(r"^\s*// END EXERCISE")


# --- finding labs -------------------------------------------------------------------------

def labs_dir() -> Path:
    """labs/ of the torchlab checkout (TORCHLAB_LABS overrides)."""
    default = Path(__file__).resolve().parents[2] / "labs"
    return Path(os.environ.get("TORCHLAB_LABS", default))


def lab_folders() -> dict[int, Path]:
    folders = {}
    for folder in sorted(labs_dir().glob("[0-9][0-9]_*")):
        if (folder / "lesson.py").exists():
            folders[int(folder.name[:2])] = folder
    return folders


def lab_folder(number: int) -> Path:
    folders = lab_folders()
    if number not in folders:
        known = ", ".join(str(n) for n in folders) or "none"
        raise SystemExit(f"torchlab: no lab {number} in {labs_dir()} (labs: {known})")
    return folders[number]


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_lab(number: int) -> Lab:
    return _import(lab_folder(number) / "lesson.py", f"torchlab_lab{number:02d}_lesson").lab


@dataclass
class Task:
    """A graded exercise: the sources it builds, a brief, and the checks the reference passes."""
    name: str
    brief: str
    check: object  # callable(ops namespace) -> None, raising AssertionError with the reason


def load_tasks(number: int) -> tuple[list[Path], list[Task]]:
    """The lab's exercise sources and tasks (tasks.py: SOURCES and TASKS); none if it has none."""
    folder = lab_folder(number)
    if not (folder / "tasks.py").exists():
        return [], []
    module = _import(folder / "tasks.py", f"torchlab_lab{number:02d}_tasks")
    return [folder / source for source in module.SOURCES], module.TASKS


# --- progress -----------------------------------------------------------------------------

def progress_path() -> Path:
    return Path(os.environ.get("TORCHLAB_HOME", Path.home() / ".torchlab")) / "progress.json"


def load_progress() -> dict:
    path = progress_path()
    return json.loads(path.read_text()) if path.exists() else {}


def record(number: int, key: str, value: str) -> None:
    progress = load_progress()
    progress.setdefault(f"{number:02d}", {})[key] = value
    path = progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(progress, indent=1, sort_keys=True))


# --- list and run -------------------------------------------------------------------------

def list_labs() -> int:
    progress = load_progress()
    for number in lab_folders():
        lab = load_lab(number)
        _, tasks = load_tasks(number)
        mine = progress.get(f"{number:02d}", {})
        passed = sum(mine.get(f"task {t.name}") == "passed" for t in tasks)
        lesson = "lesson done" if mine.get("lesson") == "passed" else "lesson not done"
        exercises = f", {passed}/{len(tasks)} tasks passed" if tasks else ""
        gpu_steps = sum(step.needs == "cuda" for step in lab.steps)
        needs = f"CPU, GPU for {gpu_steps} step{'s' * (gpu_steps > 1)}" if gpu_steps else "CPU"
        print(f"{number:02d}  {lab.title:<40} needs {needs:<22} {lesson}{exercises}")
    return 0


def print_step(result: StepResult, index: int, total: int) -> None:
    step = result.step
    rule = "─" * max(4, 76 - len(step.title))
    print(f"\n── Step {index}/{total}: {step.title} {rule}")
    if step.explanation:
        print(textwrap.indent(step.explanation, "  "))
    print("\n" + textwrap.indent(step.code, "    │ "))
    print()
    print(result.output.rstrip("\n") if result.output.strip() else "  (no output)")
    mark = {"passed": "passed", "failed": "FAILED", "skipped": "skipped"}[result.status]
    print(f"  [{mark}, {result.seconds:.1f} s]")


def run_lab(lab: Lab, *, step: int | None = None, all_steps: bool = False) -> int:
    if step is not None and not 1 <= step <= len(lab.steps):
        raise SystemExit(f"torchlab: lab {lab.number} has steps 1 to {len(lab.steps)}")
    print(f"Lab {lab.number:02d}: {lab.title}")
    chosen = [step] if step is not None else range(1, len(lab.steps) + 1)
    pause = not all_steps and step is None and sys.stdin.isatty()
    results = []
    for index in chosen:
        result = lab.run_step(lab.steps[index - 1])
        print_step(result, index, len(lab.steps))
        results.append(result)
        if pause and index < len(lab.steps):
            input("\n  Enter for the next step (Ctrl-C to stop) ")
    failed = [r.step.title for r in results if r.status == "failed"]
    skipped = sum(r.status == "skipped" for r in results)
    print(f"\n{len(results) - len(failed) - skipped} passed, {len(failed)} failed, {skipped} skipped")
    if step is None:
        record(lab.number, "lesson", "failed" if failed else "passed")
    return 1 if failed else 0


def run_lab_cli(lab: Lab, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"lab {lab.number:02d}")
    parser.add_argument("--step", type=int)
    parser.add_argument("--all", action="store_true", help="run straight through")
    args = parser.parse_args(argv)
    return run_lab(lab, step=args.step, all_steps=args.all)


# --- exercises ----------------------------------------------------------------------------

def stub_out(source: str) -> str:
    """The source with each exercise's code replaced by a stub that fails; the marker and
    the brief (the comment lines right after it) stay."""
    out, exercise, in_brief = [], None, False
    for line in source.splitlines():
        begin = EXERCISE_BEGIN.match(line)
        if begin:
            exercise, in_brief = begin, True
            out.append(line)
        elif exercise is None:
            out.append(line)
        elif EXERCISE_END.match(line):
            indent, name, empty = exercise.groups()
            if not empty:
                out.append(f'{indent}TORCH_CHECK(false, "exercise {name}: not written yet");')
            out.append(line)
            exercise = None
        elif in_brief and line.lstrip().startswith("//"):
            out.append(line)
        else:
            in_brief = False  # the reference's code: left out
    if exercise is not None:
        raise ValueError(f"exercise {exercise.group(2)} has no // END EXERCISE")
    return "\n".join(out) + "\n"


def default_workspace(number: int) -> Path:
    return Path.cwd() / "torchlab-exercises" / lab_folder(number).name


def write_exercise(number: int, directory: Path | None) -> int:
    sources, tasks = load_tasks(number)
    if not tasks:
        print(f"lab {number} has no exercises")
        return 0
    directory = directory or default_workspace(number)
    directory.mkdir(parents=True, exist_ok=True)
    for source in sources:
        target = directory / source.name
        if target.exists():
            print(f"kept {target} (already there: your work is not overwritten)")
            continue
        target.write_text(stub_out(source.read_text()))
        print(f"wrote {target}")
    brief = [f"# Lab {number:02d} exercises", ""]
    for task in tasks:
        brief += [f"## {task.name}", "", task.brief, ""]
    brief += [f"Grade with: torchlab lab check {number} --dir {directory}", ""]
    (directory / "BRIEF.md").write_text("\n".join(brief))
    print(f"wrote {directory / 'BRIEF.md'}\n\n" + "\n".join(brief))
    return 0


def grade(number: int, directory: Path | None, task_name: str | None, *,
          reference: bool = False) -> int:
    """Builds the learner's sources (or the lab's reference) and runs each task's checks."""
    from torchlab.labs.build import build

    sources, tasks = load_tasks(number)
    if task_name is not None:
        tasks = [t for t in tasks if t.name == task_name]
        if not tasks:
            raise SystemExit(f"torchlab: lab {number} has no task {task_name!r}")
    if not reference:
        directory = directory or default_workspace(number)
        sources = [directory / s.name for s in sources]
        missing = [str(s) for s in sources if not s.exists()]
        if missing:
            raise SystemExit(f"torchlab: {', '.join(missing)} not found: write the workspace "
                             f"first with `torchlab lab exercise {number}`")
    print(f"building {', '.join(str(s) for s in sources)} ...", flush=True)
    try:
        ops = build(f"lab{number:02d}", sources)
    except Exception as error:
        print(f"build failed:\n{error}")
        for task in tasks:
            print(f"[FAIL] {task.name}: the sources do not build")
            if not reference:
                record(number, f"task {task.name}", "failed")
        return 1
    failures = 0
    for task in tasks:
        try:
            task.check(ops)
        except Exception as error:  # a wrong result or an exception from the learner's code
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            print(f"[FAIL] {task.name}: {reason}")
            failures += 1
            status = "failed"
        else:
            print(f"[pass] {task.name}")
            status = "passed"
        if not reference:
            record(number, f"task {task.name}", status)
    print(f"\n{len(tasks) - failures} passed, {failures} failed")
    return 1 if failures else 0

