"""The lab runner: lessons made of checked steps, exercise workspaces, and their grading.

A lab is a folder ``labs/NN_<topic>/`` with ``lesson.py`` (a ``Lab`` and its steps) and,
where it has exercises, ``tasks.py`` (the graded tasks) and the C++ sources they build.
"""

from torchlab.labs.lesson import CheckFailed, Lab, check
from torchlab.labs.runner import Task

__all__ = ["CheckFailed", "Lab", "Task", "check"]
