"""The site's public address, from which every URL Kafaat hands out or accepts is derived.

Credentials, their QR codes, verification and LinkedIn links, status lists and HR export files point
at ``root_url()``; the terminal gateway accepts websockets from ``allowed_origins()``. Both come from
the site's own root URL, ``LMS_ROOT_URL`` (Open edX sets it; the demo sets it from its host and port),
unless ``KAFAAT["PUBLIC_BASE_URL"]`` names another address that serves the same site. Django's system
checks (``check_site_urls``) refuse a configuration whose signed URLs would point where the site is not.
"""

from __future__ import annotations

import urllib.parse

from django.conf import settings
from django.core import checks
from django.http.request import validate_host

from xblocks.core.conf import AppSettings

site_settings = AppSettings(
    {
        # Scheme, host and port of the site when it differs from LMS_ROOT_URL (another name of the same
        # LMS, reached through a proxy); "" means LMS_ROOT_URL.
        "PUBLIC_BASE_URL": "",
    }
)


def lms_root_url() -> str:

    value = getattr(settings, "LMS_ROOT_URL", "") if settings.configured else ""
    return value.rstrip("/") if isinstance(value, str) else ""


def root_url() -> str:
    """Where the site answers, without a trailing slash: ``https://lms.example.org``."""
    return str(site_settings.PUBLIC_BASE_URL or "").rstrip("/") or lms_root_url()


def origin(url: str) -> str:
    """The origin (``scheme://host[:port]``) of an absolute URL, as browsers send it; "" when not absolute."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(extra=()) -> set[str]:
    """Origins a browser page of this site sends: the site's own, LMS_ROOT_URL's, plus ``extra``."""
    found = {origin(root_url()), origin(lms_root_url())}
    found.update(origin(str(item)) or str(item).rstrip("/") for item in extra)
    found.discard("")
    return found


def _allowed_host(host: str) -> bool:

    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:  # what Django itself accepts then
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, allowed)


def problems() -> list[checks.CheckMessage]:
    """What would make the URLs Kafaat signs or accepts point where this site does not answer."""
    found: list[checks.CheckMessage] = []
    url = root_url()
    public = str(site_settings.PUBLIC_BASE_URL or "").rstrip("/")
    if not origin(url):
        found.append(
            checks.Error(
                f"The site's root URL is {url or 'not set'!r}; credentials, QR codes and terminal origins are "
                "derived from it.",
                hint="Set LMS_ROOT_URL (or KAFAAT['PUBLIC_BASE_URL']) to an absolute http(s) URL such as "
                "https://lms.example.org.",
                id="kafaat.E001",
            )
        )
        return found
    parts = urllib.parse.urlsplit(url)
    if parts.path.strip("/") or parts.query or parts.fragment:
        found.append(
            checks.Error(
                f"The site's root URL {url!r} has a path, query or fragment; Kafaat's URLs are mounted at the "
                "site's root, so signed links would not resolve.",
                hint="Give only the scheme, host and port.",
                id="kafaat.E002",
            )
        )
    if not _allowed_host(parts.hostname or ""):
        found.append(
            checks.Error(
                f"{parts.hostname!r}, the host in {url!r}, is not in ALLOWED_HOSTS: every signed link to this "
                "site would be answered with 400 Bad Request.",
                hint="Add the host to ALLOWED_HOSTS or correct the root URL.",
                id="kafaat.E003",
            )
        )
    lms = lms_root_url()
    if public and origin(lms) and origin(public) != origin(lms):
        if urllib.parse.urlsplit(public).hostname == urllib.parse.urlsplit(lms).hostname:
            found.append(
                checks.Error(
                    f"KAFAAT['PUBLIC_BASE_URL'] is {public!r} but the site is served at {lms!r}: credentials "
                    "would point at a port or scheme where nothing answers.",
                    hint="Remove PUBLIC_BASE_URL (the site's own URL is used) or make it match LMS_ROOT_URL.",
                    id="kafaat.E004",
                )
            )
    return found


def check_site_urls(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Django system check (``manage.py check``, ``runserver`` and ``migrate`` run it): see ``problems``."""
    return problems()
