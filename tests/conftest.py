"""Fixtures shared by every test package."""
import pytest


@pytest.fixture
def workbench_runtime():
    """A workbench runtime factory: ``workbench_runtime("student_1")`` acts as that learner."""
    from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

    return WorkbenchRuntime
