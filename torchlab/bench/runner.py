"""Running benchmark specs: every provider checked against the float64 reference, then
timed, side by side, with the machine's ceilings measured in the same run. (The gradients
of an operator whose backward reads its own outputs are checked against float64 gradients
from the outputs the provider computed: BenchSpec.backward_from_outputs.)

For each case and dtype the inputs are made once (random, outside any timed region) and
shared by every provider and mode. A provider whose result is wrong is reported as wrong
and not timed; one that fails is reported with its error. ``compile`` providers are
compiled from scratch for each case, dtype and mode (no recompile limit can quietly turn
them back into eager), and their compile time is reported apart from the timings.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from torchlab.bench import DEFAULT_PROVIDERS, PROVIDERS
from torchlab.bench import ceilings as ceilings_module
from torchlab.bench.ceilings import Ceilings
from torchlab.bench.environment import environment
from torchlab.bench.spec import DTYPES, MODES, SHAPE_SETS, BenchSpec, Case
from torchlab.bench.timing import time_on
from torchlab.testing import assert_close_to_reference

COMPILE_MODES = {"compile": "default", "compile-max": "max-autotune-no-cudagraphs"}


@dataclass(frozen=True)
class Provider:
    name: str  # one of PROVIDERS
    version: str  # a version of torchlab's ladder; "" for the public op and for the others
    fn: Callable[[Mapping[str, Tensor]], "Tensor | tuple[Tensor, ...]"]
    compiled: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}" if self.version else self.name


def _as_tuple(out) -> tuple[Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def make_providers(spec: BenchSpec, case: Case, names: Sequence[str]) -> list[Provider]:
    providers = []
    for name in names:
        if name == "torchlab":
            providers += [Provider(name, version, lambda inputs, f=f: f(inputs, case.params))
                          for version, f in spec.versions.items()]
        elif name == "eager":
            providers.append(Provider(name, "", lambda inputs: spec.native(inputs, case.params)))
        elif name in COMPILE_MODES:
            torch._dynamo.reset()  # a fresh cache for each call: no recompile limit is hit
            compiled = torch.compile(lambda inputs: spec.native(inputs, case.params),
                                     mode=COMPILE_MODES[name], dynamic=False, fullgraph=True)
            providers.append(Provider(name, "", compiled, compiled=True))
        else:
            raise ValueError(f"unknown provider {name!r}; choose from {', '.join(PROVIDERS)}")
    return providers


@dataclass
class Prepared:
    """One case's inputs and reference results, shared by every provider."""

    inputs: dict[str, Tensor]
    grad_outputs: tuple[Tensor, ...]
    reference: dict[str, tuple[Tensor, ...]]  # by mode; empty when not asked for


def _with_grad(spec: BenchSpec, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().requires_grad_(k in spec.differentiable) for k, v in inputs.items()}


def prepare(spec: BenchSpec, case: Case, dtype: torch.dtype, device: str,
            modes: Sequence[str], *, with_reference: bool = True) -> Prepared:
    """Random inputs and output gradients for a case, and the float64 reference results."""
    inputs = spec.make_inputs(case, dtype, device)
    # The reference runs the native expression in float64 (on a meta copy, for the output
    # shapes alone, when no reference is asked for).
    inputs64 = _with_grad(spec, {k: v.to(device=device if with_reference else "meta",
                                         dtype=torch.float64 if with_reference else dtype)
                                 for k, v in inputs.items()})
    out64 = _as_tuple(spec.native(inputs64, case.params))
    grad_outputs = tuple(torch.randn(o.shape, dtype=dtype, device=device) for o in out64)
    if not with_reference:
        return Prepared(inputs, grad_outputs, {})
    reference = {"fwd": tuple(o.detach() for o in out64)}
    if any(mode != "fwd" for mode in modes):
        grads64 = torch.autograd.grad(out64, [inputs64[k] for k in spec.differentiable],
                                      [g.double() for g in grad_outputs])
        reference["bwd"] = grads64
        reference["fwd+bwd"] = reference["fwd"] + grads64
    return Prepared(inputs, grad_outputs, reference)


def workload(spec: BenchSpec, provider: Provider, prepared: Prepared,
             mode: str) -> Callable[[], tuple[Tensor, ...]]:
    """The work timed for a mode; what it returns is checked against the reference (and,
    in bwd, the forward's outputs it reads: its ``forward_outputs``)."""
    if mode == "fwd":
        return lambda: _as_tuple(provider.fn(prepared.inputs))
    inputs = _with_grad(spec, prepared.inputs)
    wrt = [inputs[k] for k in spec.differentiable]
    if mode == "bwd":  # the forward is recorded once, outside the timed region
        outputs = _as_tuple(provider.fn(inputs))

        def backward():
            return torch.autograd.grad(outputs, wrt, prepared.grad_outputs, retain_graph=True)
        backward.forward_outputs = tuple(o.detach() for o in outputs)  # what it reads
        return backward

    def forward_backward():
        outputs = _as_tuple(provider.fn(inputs))
        return tuple(o.detach() for o in outputs) + torch.autograd.grad(
            outputs, wrt, prepared.grad_outputs)
    return forward_backward


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _expected(spec: BenchSpec, case: Case, prepared: Prepared, mode: str, dtype: torch.dtype,
              fn: Callable[[], tuple[Tensor, ...]],
              result: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The reference results of a mode; with the spec's backward_from_outputs, the gradients
    from the outputs the provider's backward read: returned in fwd+bwd (and checked with
    the gradients), the recorded forward's in bwd (checked here: a wrong forward with a
    backward true to it would pass otherwise)."""
    if mode == "fwd" or spec.backward_from_outputs is None:
        return prepared.reference[mode]
    forward = prepared.reference["fwd"]
    if mode == "fwd+bwd":
        outputs = result[:len(forward)]
    else:
        outputs = fn.forward_outputs
        _assert_all_close(outputs, forward, dtype, "forward output")
    # Detached already: by forward_backward, or as forward_outputs.
    grads = tuple(spec.backward_from_outputs(outputs, prepared.grad_outputs, case.params))
    return forward + grads if mode == "fwd+bwd" else grads


def _assert_all_close(results: tuple[Tensor, ...], expected: tuple[Tensor, ...],
                      dtype: torch.dtype, name: str) -> None:
    for i, (got, ref) in enumerate(zip(results, expected, strict=True)):
        assert_close_to_reference(got, ref, dtype, name=f"{name} {i}")


def _measure(spec: BenchSpec, case: Case, dtype: torch.dtype, mode: str, device: str,
             provider: Provider, prepared: Prepared, ceiling: Ceilings) -> dict:
    record = {
        "op": spec.op, "provider": provider.name, "version": provider.version, "mode": mode,
        "dtype": str(dtype).removeprefix("torch."), "shape": list(case.shape),
        "params": dict(case.params), "case": case.label, "device": device,
        "bytes": spec.bytes_moved(case, dtype, mode) if spec.bytes_moved else None,
        "flops": spec.flops(case, dtype, mode) if spec.flops else None,
    }
    try:
        start = time.perf_counter()
        fn = workload(spec, provider, prepared, mode)  # bwd: records (and compiles) the forward
        result = fn()  # for compile providers, the first call compiles
        _sync(device)
        if provider.compiled:
            record["compile_s"] = time.perf_counter() - start
    except Exception as error:  # a provider that cannot run is reported, not fatal
        record["error"] = f"failed: {_first_line(error)}"
        return record
    try:
        _assert_all_close(result, _expected(spec, case, prepared, mode, dtype, fn, result),
                          dtype, "output")
    except (AssertionError, ValueError) as error:  # ValueError: a missing or extra output
        record["error"] = f"wrong result, not timed: {_first_line(error)}"
        return record
    del result
    try:
        # A graph captures the backward only with its forward: not in the bwd mode, whose
        # launch-bound timings include the autograd engine's CPU time (launch_bound says so).
        timing = time_on(device, fn, graph_if_launch_bound=mode != "bwd")
    except Exception as error:
        record["error"] = f"failed while timing: {_first_line(error)}"
        return record
    record.update(median_ms=timing.median_ms, min_ms=timing.min_ms, max_ms=timing.max_ms,
                  spread=timing.spread, reps=timing.reps, timing_method=timing.method,
                  launch_bound=timing.launch_bound, events_ms=timing.events_ms)
    seconds = timing.median_ms / 1e3
    record["gbps"] = record["bytes"] / seconds / 1e9 if record["bytes"] else None
    record["tflops"] = record["flops"] / seconds / 1e12 if record["flops"] else None
    record["ceiling"], ceiling_value = ceiling.for_op(spec.bound, dtype)
    achieved = record["gbps"] if spec.bound == "memory" else record["tflops"]
    record["pct_of_ceiling"] = 100 * achieved / ceiling_value if achieved else None
    return record


def _first_line(error: Exception) -> str:
    """The error's type and first line, fit for one cell of a table."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".replace("|", "/")


def _add_speedups(records: list[dict]) -> None:
    """speedup_vs_eager / _compile: the baseline's time over this record's, at the same point.
    Where the two were timed differently (one replayed as a graph, one not), the events'
    medians of both are compared, so that like is compared with like."""
    def point(r):
        return (r["op"], r["mode"], r["dtype"], r["case"])
    baselines = {(point(r), r["provider"]): r for r in records
                 if r["provider"] in ("eager", "compile") and "median_ms" in r}
    for r in records:
        for name in ("eager", "compile"):
            base = baselines.get((point(r), name))
            if base is None or "median_ms" not in r:
                r[f"speedup_vs_{name}"] = None
            elif base["timing_method"] == r["timing_method"]:
                r[f"speedup_vs_{name}"] = base["median_ms"] / r["median_ms"]
            else:
                r[f"speedup_vs_{name}"] = (base["events_ms"] or base["median_ms"]) / (
                    r["events_ms"] or r["median_ms"])


class _Progress:
    """A progress bar on a terminal (tqdm), one line per step otherwise (logs, CI)."""

    def __init__(self, total: int, file=sys.stderr):
        self.file, self.total, self.done = file, total, 0
        self.bar = None
        if file.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, file=file, unit="case", dynamic_ncols=True)

    def step(self, label: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update()
        else:
            print(f"[{self.done}/{self.total}] {label}", file=self.file, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(specs: Sequence[BenchSpec], *, device: str, dtypes: Sequence[str] = tuple(DTYPES),
        modes: Sequence[str] = MODES, shapes: str = "quick",
        providers: Sequence[str] = DEFAULT_PROVIDERS, progress_file=sys.stderr) -> dict:
    """Benchmark every spec; returns the environment, the ceilings and the records."""
    for kind, values, allowed in (("mode", modes, MODES), ("provider", providers, PROVIDERS),
                                  ("dtype", dtypes, tuple(DTYPES)),
                                  ("shape set", [shapes], SHAPE_SETS)):
        for value in values:
            if value not in allowed:
                raise ValueError(f"unknown {kind} {value!r}; choose from {', '.join(allowed)}")
    started = time.perf_counter()
    ceiling = ceilings_module.measure(device)
    env = environment(device)  # after the ceilings: clocks read under load, not idle
    plan = [(spec, case, dtype) for spec in specs if device in spec.devices
            for case in spec.cases(shapes, device) for dtype in dtypes]
    progress = _Progress(len(plan) * len(modes), progress_file)
    records = []
    try:
        for spec, case, dtype_name in plan:
            dtype = DTYPES[dtype_name]
            prepared = prepare(spec, case, dtype, device, modes)
            for mode in modes:
                # Fresh providers for each mode: compile providers compile, and are timed
                # compiling, for this mode alone.
                for provider in make_providers(spec, case, providers):
                    records.append(_measure(spec, case, dtype, mode, device, provider,
                                            prepared, ceiling))
                progress.step(f"{spec.op} {case.label} {dtype_name} {mode}")
            del prepared
            if device == "cuda":
                torch.cuda.empty_cache()
    finally:
        progress.close()
    _add_speedups(records)
    return {
        "environment": env,
        "environment_end": environment(device),
        "ceilings": ceiling.as_dict(),
        "options": {"ops": [s.op for s in specs], "device": device, "dtypes": list(dtypes),
                    "modes": list(modes), "shapes": shapes, "providers": list(providers)},
        "elapsed_s": time.perf_counter() - started,
        "records": records,
    }
