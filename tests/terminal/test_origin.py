"""The Origin allowlist: exact matches only, one header, the LMS's own origin included inside Open edX."""

import pytest

from xblocks.labs.terminal.gateway import origin_allowed


def scope(*origins: bytes) -> dict:
    return {"type": "websocket", "headers": [(b"host", b"lms.example.org"), *[(b"origin", o) for o in origins]]}


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ((b"http://127.0.0.1:8000",), True),
        ((b"http://localhost:8000/",), True),
        ((b"https://lms.example.org",), True),  # LMS_ROOT_URL
        ((), False),
        ((b"null",), False),
        ((b"https://evil.example",), False),
        ((b"http://127.0.0.1:8000.evil.example",), False),
        ((b"http://127.0.0.1:80001",), False),
        ((b"https://lms.example.org.evil.example",), False),
        ((b"http://127.0.0.1:8000", b"https://evil.example"), False),  # two headers: refuse
    ],
)
def test_only_listed_origins_pass(settings, origins, allowed):
    settings.LMS_ROOT_URL = "https://lms.example.org"
    assert origin_allowed(scope(*origins)) is allowed


def test_operators_can_replace_the_list(settings):
    settings.KAFAAT = {"TERMINAL_ALLOWED_ORIGINS": ["https://courses.example.org"]}
    assert origin_allowed(scope(b"https://courses.example.org"))
    assert not origin_allowed(scope(b"http://127.0.0.1:8000"))
