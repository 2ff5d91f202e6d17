"""Translation helpers: Python strings through Django's gettext, JS strings through an embedded catalog.

Catalogs live in ``xblocks/conf/locale/<lang>/LC_MESSAGES/{django,djangojs}.po``; the apps add
that folder to ``LOCALE_PATHS`` (``plugin_settings`` inside Open edX, the demo settings outside).
"""

from __future__ import annotations

import gettext as _gettext
import pathlib
from functools import lru_cache

from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext  # noqa: F401  re-exported

LOCALE_DIR = pathlib.Path(__file__).resolve().parent.parent / "conf" / "locale"
RTL_LANGUAGES = {"ar", "fa", "he", "ur"}


def language() -> str:
    """The active language code, e.g. ``fr`` or ``ar`` (``en`` when none is active)."""
    return (translation.get_language() or "en").split("-")[0].lower()


def direction(lang: str | None = None) -> str:
    """``rtl`` or ``ltr`` for the given (or active) language; blocks put it on their root's ``dir``."""
    return "rtl" if (lang or language()) in RTL_LANGUAGES else "ltr"


@lru_cache(maxsize=16)
def js_catalog(lang: str) -> dict:
    """The JS catalog for ``lang``: ``{"catalog": {msgid: str | [forms]}, "plural": expr}``.

    Embedded in each block's initialiser, so a page needs no extra request and no URL conf.
    """
    try:
        trans = _gettext.translation("djangojs", localedir=str(LOCALE_DIR), languages=[lang])
    except OSError:
        return {"catalog": {}, "plural": "n != 1"}
    catalog: dict = {}
    # pylint: disable=protected-access
    for key, value in trans._catalog.items():  # type: ignore[attr-defined]
        if not key:
            continue
        if isinstance(key, tuple):
            msgid, index = key
            forms = catalog.setdefault(msgid, [])
            while len(forms) <= index:
                forms.append("")
            forms[index] = value
        else:
            catalog[key] = value
    plural = "n != 1"
    for line in trans._info.get("plural-forms", "").split(";"):  # type: ignore[attr-defined]
        if line.strip().startswith("plural="):
            plural = line.strip()[len("plural=") :]
    return {"catalog": catalog, "plural": plural}
