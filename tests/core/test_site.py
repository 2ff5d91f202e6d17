"""The site's address: every URL Kafaat signs or accepts derives from it, and a configuration whose signed
links would not resolve is refused by Django's system checks."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from xblocks.core import site


def _ids(settings) -> list[str]:
    return [message.id for message in site.problems()]


def test_the_root_url_is_lms_root_url_unless_a_public_base_url_is_given(settings):
    settings.LMS_ROOT_URL = "https://lms.example.org/"
    settings.KAFAAT = {}
    assert site.root_url() == "https://lms.example.org"
    settings.KAFAAT = {"PUBLIC_BASE_URL": "https://learn.example.org"}
    assert site.root_url() == "https://learn.example.org"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://lms.example.org/x?y", "https://lms.example.org"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("https://lms.example.org:443", "https://lms.example.org"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("lms.example.org", ""),
        ("javascript:alert(1)", ""),
    ],
)
def test_origins_are_what_browsers_send(url, expected):
    assert site.origin(url) == expected


def test_a_consistent_site_has_no_problem(settings):
    settings.LMS_ROOT_URL, settings.ALLOWED_HOSTS, settings.KAFAAT = "https://lms.example.org", ["lms.example.org"], {}
    assert _ids(settings) == []


def test_no_root_url_is_refused(settings):
    settings.LMS_ROOT_URL, settings.KAFAAT = "", {}
    assert _ids(settings) == ["kafaat.E001"]


def test_a_root_url_with_a_path_is_refused(settings):
    settings.LMS_ROOT_URL, settings.ALLOWED_HOSTS, settings.KAFAAT = "https://lms.example.org/lms", ["*"], {}
    assert _ids(settings) == ["kafaat.E002"]


def test_a_host_django_would_refuse_is_refused(settings):
    settings.LMS_ROOT_URL, settings.ALLOWED_HOSTS = "https://lms.example.org", ["courses.example.org"]
    settings.KAFAAT = {}
    assert _ids(settings) == ["kafaat.E003"]


def test_a_public_base_url_on_another_port_of_the_same_host_is_refused(settings):
    settings.LMS_ROOT_URL, settings.ALLOWED_HOSTS = "http://127.0.0.1:8123", ["*"]
    settings.KAFAAT = {"PUBLIC_BASE_URL": "http://127.0.0.1:8000"}
    assert _ids(settings) == ["kafaat.E004"]
    with pytest.raises(SystemCheckError, match="kafaat.E004"):
        call_command("check")


def test_another_name_of_the_same_site_is_accepted(settings):
    settings.LMS_ROOT_URL, settings.ALLOWED_HOSTS = "https://lms.example.org", ["lms.example.org", "learn.example.org"]
    settings.KAFAAT = {"PUBLIC_BASE_URL": "https://learn.example.org"}
    assert _ids(settings) == []


@pytest.mark.django_db
def test_every_public_link_follows_the_sites_address(settings):
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    settings.LMS_ROOT_URL, settings.KAFAAT = "http://127.0.0.1:8123", {}
    for url in (
        api.verification_url("KAF-1"),
        api.pdf_url("KAF-1"),
        api.credential_url("KAF-1"),
        api.issuer_url("school"),
        api.status_list_url("school", "revocation", 0),
    ):
        assert url.startswith("http://127.0.0.1:8123/kafaat/credentials/"), url
