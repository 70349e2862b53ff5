import pytest

from torchlab.cli import main
from torchlab.labs import runner


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHLAB_HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True, scope="session")
def _private_build_cache(tmp_path_factory):
    # The labs' C++ builds, once for the session, outside the user's ~/.cache.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHLAB_CACHE", str(tmp_path_factory.mktemp("build-cache")))
        yield


def test_stub_out_keeps_the_brief_and_drops_the_reference():
    source = "\n".join([
        "int f(int x) {",
        "  // EXERCISE f: return twice x.",
        "  // (more brief)",
        "  int y = 2 * x;  // secret",
        "  // a comment inside the reference",
        "  return y;",
        "  // END EXERCISE",
        "}",
    ])
    stub = runner.stub_out(source)
    assert "2 * x" not in stub and "return y" not in stub and "inside the reference" not in stub
    assert "// (more brief)" in stub
    assert '  TORCH_CHECK(false, "exercise f: not written yet");' in stub
    assert stub.startswith("int f(int x) {") and stub.rstrip().endswith("}")


def test_stub_out_can_leave_a_registration_empty():
    source = "TORCH_LIBRARY(ns, m) {\n  // EXERCISE schema [empty]: define it.\n  m.def(\"f() -> ()\");\n  // END EXERCISE\n}\n"
    stub = runner.stub_out(source)
    assert "m.def" not in stub and "TORCH_CHECK" not in stub and "// END EXERCISE" in stub


def test_stub_out_rejects_an_unclosed_exercise():
    with pytest.raises(ValueError, match="exercise f has no // END EXERCISE"):
        runner.stub_out("// EXERCISE f: brief\nint x;\n")


@pytest.mark.parametrize("number", sorted(runner.lab_folders()))
def test_every_lab_runs_through_and_records_progress(number, capsys):
    assert main(["lab", "run", str(number), "--all"]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and "[FAILED" not in out
    assert runner.load_progress()[f"{number:02d}"]["lesson"] == "passed"


def test_a_failing_claim_fails_the_run(capsys):
    from torchlab.labs import Lab, check

    lab = Lab(99, "broken")

    @lab.step("a false claim")
    def _():
        check(1 + 1 == 3, "one and one make three")

    assert runner.run_lab(lab, all_steps=True) == 1
    assert "claim does not hold: one and one make three" in capsys.readouterr().out


LABS_WITH_TASKS = [n for n in sorted(runner.lab_folders()) if runner.load_tasks(n)[1]]


@pytest.mark.parametrize("number", LABS_WITH_TASKS)
def test_the_reference_passes_every_task(number, capsys):
    assert main(["lab", "check", str(number), "--reference"]) == 0
    assert "[FAIL]" not in capsys.readouterr().out


@pytest.mark.parametrize("number", LABS_WITH_TASKS)
def test_the_untouched_stubs_fail_every_task(number, tmp_path, capsys):
    assert main(["lab", "exercise", str(number), "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "BRIEF.md").exists()
    assert main(["lab", "check", str(number), "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    _, tasks = runner.load_tasks(number)
    assert "[pass]" not in out
    for task in tasks:
        assert f"[FAIL] {task.name}: " in out
        assert runner.load_progress()[f"{number:02d}"][f"task {task.name}"] == "failed"


def test_lab01_grader_catches_a_subtle_mistake(tmp_path, capsys):
    # offset_of that forgets the storage offset passes on fresh tensors, fails on slices.
    reference = (runner.lab_folder(1) / "strided.cpp").read_text()
    wrong = reference.replace("int64_t offset = storage_offset;", "int64_t offset = 0;")
    assert wrong != reference
    (tmp_path / "strided.cpp").write_text(wrong)
    assert main(["lab", "check", "1", "--dir", str(tmp_path), "--task", "offset_of"]) == 1
    assert "[FAIL] offset_of: sliced with an offset" in capsys.readouterr().out


def test_exercise_does_not_overwrite_the_learners_work(tmp_path, capsys):
    (tmp_path / "strided.cpp").write_text("// my work\n")
    main(["lab", "exercise", "1", "--dir", str(tmp_path)])
    assert (tmp_path / "strided.cpp").read_text() == "// my work\n"
    assert "your work is not overwritten" in capsys.readouterr().out


def test_unknown_lab_and_step_are_clear_errors():
    with pytest.raises(SystemExit, match="no lab 42"):
        main(["lab", "run", "42"])
    with pytest.raises(SystemExit, match="has steps 1 to"):
        main(["lab", "run", "1", "--step", "99"])


def test_list_shows_labs_and_progress(capsys):
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert "01  Tensors, storage and strides" in out and "lesson not done" in out
