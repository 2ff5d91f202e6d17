"""Front-end assets and admin: vendored files are the npm ones, fragments get everything, audit is visible."""

import hashlib
import pathlib
import re

import pytest

from xblocks.labs.terminal.assets import add_to_fragment

VENDOR = pathlib.Path(__file__).resolve().parents[2] / "xblocks" / "labs" / "terminal" / "static" / "vendor" / "xterm"


def test_vendored_xterm_files_are_unmodified_copies_with_licences():
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (VENDOR / "VERSIONS").read_text(), re.MULTILINE)
    assert {name for _digest, name in listed} == {"xterm.js", "xterm.css", "addon-fit.js", "addon-web-links.js"}
    for digest, name in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for licence in ("LICENSE", "LICENSE.addon-fit", "LICENSE.addon-web-links"):
        assert (
            "MIT License" in (VENDOR / licence).read_text()
            or "Permission is hereby granted" in (VENDOR / licence).read_text()
        )


def test_a_fragment_gets_xterm_its_addons_css_i18n_and_the_terminal_glue_with_amd_hidden():
    from web_fragments.fragment import Fragment

    frag = Fragment("<div></div>")
    add_to_fragment(frag)
    scripts = [r.data for r in frag.resources if r.mimetype == "application/javascript"]
    styles = [r.data for r in frag.resources if r.mimetype == "text/css"]
    assert any(".xterm-viewport" in css for css in styles) and any(".kafaat-terminal__screen" in css for css in styles)
    markers = (
        "window.define = undefined",
        "define.amd)define([],t);else{var i=t()",  # xterm.js's UMD prologue
        "FitAddon",
        "WebLinksAddon",
        "window.define = window.__kafaatDefine",
        "KafaatI18n",
        "KafaatTerminal",
    )
    order = [next(i for i, js in enumerate(scripts) if marker in js) for marker in markers]
    assert order == sorted(order)  # RequireJS is hidden exactly while the UMD bundles run


def test_terminal_css_uses_logical_properties_for_rtl_pages():
    css = (VENDOR.parents[1] / "kafaat-terminal.css").read_text()
    assert not re.search(r"(margin|padding)-(left|right)|text-align:\s*(left|right)", css)


def test_every_terminal_string_goes_through_the_catalog():
    js = (VENDOR.parents[1] / "kafaat-terminal.js").read_text()
    # user-visible text is only ever set from i18n.gettext(...) or from a variable holding it
    for literal in re.findall(r'(?:textContent|el\([^,]+,\s*"[^"]*",)\s*=?\s*"([A-Z][^"]+)"', js):
        pytest.fail(f"untranslated string {literal!r}")


@pytest.mark.django_db
def test_staff_see_who_watched_whose_terminal_in_the_admin(admin_client, django_user_model):
    from xblocks.labs.terminal.models import StaffAttach

    staff = django_user_model.objects.create_user(username="watcher", is_staff=True)
    StaffAttach.objects.create(staff=staff, learner_id=7, session_id=42)
    page = admin_client.get("/admin/kafaat_terminal/staffattach/")
    assert page.status_code == 200
    assert b"watcher" in page.content and b"42" in page.content
    assert admin_client.get("/admin/kafaat_terminal/transcript/").status_code == 200
    assert admin_client.get("/admin/kafaat_terminal/terminaltoken/").status_code == 200
