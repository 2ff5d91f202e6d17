"""Browser tests start real labs: whatever a test leaves running, pass or fail, is destroyed after it."""

import pytest


@pytest.fixture(autouse=True)
def destroy_lab_sandboxes_after_each_test():
    yield
    from xblocks.labs.models import label_prefix  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    backend = get_backend()
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)
