"""Outside Open edX the compat layer answers from Django alone: workbench users, demo staff, no Studio."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from xblocks.core import compat

pytestmark = pytest.mark.django_db


def test_course_staff_outside_the_platform_is_global_staff_or_a_demo_staff_id():
    users = get_user_model().objects
    assert compat.is_course_staff(users.create(username="root", is_superuser=True), "course-v1:X+Y+Z")
    assert compat.is_course_staff(users.create(username="ops", is_staff=True), "")
    assert compat.is_course_staff(users.create(username="staff"), "")
    assert not compat.is_course_staff(users.create(username="amina"), "course-v1:X+Y+Z")
    assert not compat.is_course_staff(AnonymousUser(), "")
    assert not compat.is_course_staff(None, "")


@override_settings(KAFAAT={"DEMO_STAFF_IDS": ["teacher"]})
def test_demo_staff_ids_come_from_settings():
    users = get_user_model().objects
    assert compat.is_course_staff(users.create(username="teacher"), "")
    assert not compat.is_course_staff(users.create(username="staff"), "")


def test_studio_is_recognised_by_its_url_conf():
    assert not compat.in_studio()
    with override_settings(ROOT_URLCONF="cms.urls"):
        assert compat.in_studio()
