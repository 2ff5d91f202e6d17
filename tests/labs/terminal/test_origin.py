"""The Origin allowlist: the site's own origin (LMS_ROOT_URL) and the configured extras, exact matches, one header."""

import pytest

from xblocks.labs.terminal.gateway import origin_allowed


def scope(*origins: bytes) -> dict:
    return {"type": "websocket", "headers": [(b"host", b"lms.example.org"), *[(b"origin", o) for o in origins]]}


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ((b"https://lms.example.org",), True),  # LMS_ROOT_URL
        ((b"https://lms.example.org/",), True),
        ((b"https://courses.example.org",), True),  # configured
        ((b"http://lms.example.org",), False),  # the site is https
        ((b"http://127.0.0.1:8000",), False),  # the demo's address is not this site's
        ((), False),
        ((b"null",), False),
        ((b"https://evil.example",), False),
        ((b"http://127.0.0.1:8000.evil.example",), False),
        ((b"http://127.0.0.1:80001",), False),
        ((b"https://lms.example.org.evil.example",), False),
        ((b"https://lms.example.org", b"https://evil.example"), False),  # two headers: refuse
    ],
)
def test_only_the_sites_origin_and_listed_ones_pass(settings, origins, allowed):
    settings.LMS_ROOT_URL = "https://lms.example.org"
    settings.KAFAAT = {"TERMINAL_ALLOWED_ORIGINS": ["https://courses.example.org"]}
    assert origin_allowed(scope(*origins)) is allowed


def test_the_demo_on_another_port_accepts_its_own_origin_and_no_longer_8000(settings):
    settings.LMS_ROOT_URL = "http://127.0.0.1:8123"
    settings.KAFAAT = {"TERMINAL_ALLOWED_ORIGINS": ["http://localhost:8123"]}
    assert origin_allowed(scope(b"http://127.0.0.1:8123"))
    assert origin_allowed(scope(b"http://localhost:8123"))
    assert not origin_allowed(scope(b"http://127.0.0.1:8000"))
    assert not origin_allowed(scope(b"http://localhost:8000"))


def test_a_public_base_url_adds_its_origin(settings):
    settings.LMS_ROOT_URL = "https://lms.example.org"
    settings.KAFAAT = {"PUBLIC_BASE_URL": "https://learn.example.org"}
    assert origin_allowed(scope(b"https://learn.example.org"))
    assert origin_allowed(scope(b"https://lms.example.org"))
