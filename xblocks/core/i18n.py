"""Translation helpers: Python strings through Django's gettext, JS strings through an embedded catalog.

Each app ships its catalogs in its own ``locale/<lang>/LC_MESSAGES/{django,djangojs}.po``, where Django
finds an installed app's translations without any ``LOCALE_PATHS`` entry. ``xblocks/translations/<lang>/
LC_MESSAGES/text.po`` merges every app's Python strings for the XBlock runtime's i18n service, which
looks there (the block's root package, domain ``text``). ``scripts/translations.py`` writes them all.
"""

from __future__ import annotations

import gettext as _gettext
import pathlib
from functools import lru_cache

from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext  # noqa: F401  re-exported

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
APPS = ("labs", "labs/terminal", "certification", "certification/credentials", "certification/exports", "partnership")
LOCALE_DIRS = tuple(PACKAGE_DIR / app / "locale" for app in APPS)
XBLOCK_TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
RTL_LANGUAGES = {"ar", "fa", "he", "ur"}


def language() -> str:
    """The active language code, e.g. ``fr`` or ``ar`` (``en`` when none is active)."""
    return (translation.get_language() or "en").split("-")[0].lower()


def direction(lang: str | None = None) -> str:
    """``rtl`` or ``ltr`` for the given (or active) language; blocks put it on their root's ``dir``."""
    return "rtl" if (lang or language()) in RTL_LANGUAGES else "ltr"


@lru_cache(maxsize=16)
def js_catalog(lang: str) -> dict:
    """The JS catalog for ``lang``: ``{"catalog": {msgid: str | [forms]}, "plural": expr}``, every app's merged.

    Embedded in each block's initialiser, so a page needs no extra request and no URL conf.
    """
    catalog: dict = {}
    plural = "n != 1"
    for locale_dir in LOCALE_DIRS:
        try:
            trans = _gettext.translation("djangojs", localedir=str(locale_dir), languages=[lang])
        except OSError:
            continue
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
                catalog.setdefault(key, value)
        for line in trans._info.get("plural-forms", "").split(";"):  # type: ignore[attr-defined]
            if line.strip().startswith("plural="):
                plural = line.strip()[len("plural=") :]
    return {"catalog": catalog, "plural": plural}
