"""The conformance tier runs once per project: ``DJANGO_SETTINGS_MODULE=tests.openedx.envs.lms_test``
(or ``cms_test``) ``pytest tests/openedx``; ``make test-openedx`` runs both. Tests marked ``lms`` or
``cms`` belong to one project's pass and are deselected in the other."""

import pytest
from django.conf import settings

from tests.openedx import celery  # noqa: F401  the default Celery app, as the platform's own


def pytest_collection_modifyitems(config, items):
    variant = settings.SERVICE_VARIANT
    other = {"lms": "cms", "cms": "lms"}[variant]
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


@pytest.fixture
def project() -> str:
    """``lms`` or ``cms``: which imitation project this run loaded."""
    return settings.SERVICE_VARIANT


# The certification tests' world (schools, coordinators, a cohort on the sample cloud track, learners),
# built here on the imitation platform's database.
from tests.certification.conftest import (  # noqa: E402,F401  fixtures, shared with this tier
    _english,
    cert_world,
    sample_tracks,
)
