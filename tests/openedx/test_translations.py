"""Kafaat speaks French and Arabic inside the LMS and Studio with no LOCALE_PATHS entry, and the XBlock
i18n service finds each block's catalog where edx-platform's ``XBlockI18nService`` looks for it."""

import gettext
import importlib.resources

import pytest
from django.utils import translation
from xblock.core import XBlock

from xblocks.core.i18n import js_catalog


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_django_finds_every_apps_catalog_in_its_locale_folder(lang):
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    assert not any("xblocks" in path for path in settings.LOCALE_PATHS)
    with translation.override(lang):
        for msgid in ("Start lab", "Lab definition (OLX)", "Display name"):
            assert translation.gettext(msgid) != msgid, (lang, msgid)
    with translation.override("fr"):
        assert translation.gettext("Start lab") == "Démarrer le lab"


def _xblock_i18n_translator(block_class, lang: str) -> gettext.NullTranslations:
    """edx-platform's ``XBlockI18nService`` lookup: the block's root package, its ``translations`` folder,
    the ``text`` domain, the locale from Django's ``to_locale``; Django's translator when none is found."""
    root_module = getattr(block_class, "unmixed_class", block_class).__module__.split(".")[0]
    locale_dir = importlib.resources.files(root_module) / "translations"
    return gettext.translation("text", str(locale_dir), [translation.to_locale(lang)])


@pytest.mark.parametrize("block_type", ["kafaat_lab", "kafaat_certification"])
@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_xblock_i18n_service_finds_each_blocks_catalog(block_type, lang):
    block_class = XBlock.load_class(block_type)
    translator = _xblock_i18n_translator(block_class, lang)
    # Studio translates field names and help through this service.
    for field in block_class.fields.values():
        if field.display_name and field.display_name != field.name:
            assert translator.gettext(field.display_name) != field.display_name, (lang, field.display_name)
    assert translator.gettext("Start lab") != "Start lab"
    if lang == "ar":
        assert [translator.plural(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]  # six forms
        assert translator.ngettext("%(count)d requirement left", "%(count)d requirements left", 2) == (
            "%(count)d متطلّبان متبقيان"
        )


def test_the_js_catalog_merges_every_apps_strings():
    catalog = js_catalog("fr")["catalog"]
    assert catalog["Connected"] != "Connected"  # the terminal's front end, in the labs app
    assert "Download" in catalog and "Saved." in catalog  # exports' and certification's
    assert js_catalog("ar")["plural"].startswith("(n==0 ? 0")
