"""Front-end assets and admin: vendored files are the npm ones, fragments get everything, audit is visible."""

import hashlib
import pathlib
import re

import pytest

from xblocks.labs.terminal.assets import add_to_fragment

PUBLIC = pathlib.Path(__file__).resolve().parents[3] / "xblocks" / "labs" / "public" / "kafaat-terminal"
VENDOR = PUBLIC / "vendor" / "xterm"


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


def _fragment_with_terminal(frag=None):
    from web_fragments.fragment import Fragment

    frag = frag or Fragment("<div></div>")
    add_to_fragment(frag, lambda path: f"/resource/kafaat_lab/{path}")
    return frag


def test_a_fragment_gets_xterm_its_addons_css_i18n_and_the_terminal_glue_by_url_with_amd_hidden():
    frag = _fragment_with_terminal()
    scripts = [(r.kind, r.data) for r in frag.resources if r.mimetype == "application/javascript"]
    styles = [r.data for r in frag.resources if r.mimetype == "text/css"]
    assert styles == [
        "/resource/kafaat_lab/public/kafaat-terminal/vendor/xterm/xterm.css",
        "/resource/kafaat_lab/public/kafaat-terminal/kafaat-terminal.css",
    ]
    order = [
        ("text", "window.define = undefined"),
        ("url", "vendor/xterm/xterm.js"),
        ("url", "vendor/xterm/addon-fit.js"),
        ("url", "vendor/xterm/addon-web-links.js"),
        ("text", "window.define = window.__kafaatDefine"),
        ("text", "KafaatI18n"),
        ("url", "public/kafaat-terminal/kafaat-terminal.js"),
    ]
    positions = [next(i for i, (kind, data) in enumerate(scripts) if kind == k and m in data) for k, m in order]
    assert positions == sorted(positions)  # RequireJS is hidden exactly while the UMD bundles run
    # Nothing vendored is inlined any more: the largest inline script is a few kilobytes of glue.
    assert max(len(data) for kind, data in scripts if kind == "text") < 20_000


def test_two_labs_in_one_page_load_each_asset_once():
    from web_fragments.fragment import Fragment

    page = Fragment("<main></main>")
    for _lab in range(2):
        page.add_fragment_resources(_fragment_with_terminal())
    urls = [r.data for r in page.resources if r.kind == "url"]
    assert len(urls) == len(set(urls)) == 6


def test_every_asset_url_is_a_public_file_the_block_serves():
    from xblocks.labs.block import LabBlock

    for resource in _fragment_with_terminal().resources:
        if resource.kind == "url":
            path = resource.data.removeprefix("/resource/kafaat_lab/")
            with LabBlock.open_local_resource(path) as handle:
                assert handle.read(1)


def test_terminal_css_uses_logical_properties_for_rtl_pages():
    css = (PUBLIC / "kafaat-terminal.css").read_text()
    assert not re.search(r"(margin|padding)-(left|right)|text-align:\s*(left|right)", css)


def test_every_terminal_string_goes_through_the_catalog():
    js = (PUBLIC / "kafaat-terminal.js").read_text()
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


@pytest.mark.django_db
def test_the_admin_shows_each_machines_transcript_with_its_own_command_history(admin_client):
    from xblocks.labs.terminal import api
    from xblocks.labs.terminal.models import Transcript

    api.append_transcript(42, 1, '[0.1,"o","a"]\n', b"ls /first\n", size=14, truncated=False)
    api.append_transcript(42, 1, '[0.1,"o","b"]\n', b"nmap portal\n", size=14, truncated=False, machine="attacker")
    listing = admin_client.get("/admin/kafaat_terminal/transcript/")
    assert listing.status_code == 200 and b"attacker" in listing.content
    for machine, typed, other in (("", b"ls /first", b"nmap portal"), ("attacker", b"nmap portal", b"ls /first")):
        row = Transcript.objects.get(session_id=42, machine=machine)
        page = admin_client.get(f"/admin/kafaat_terminal/transcript/{row.pk}/change/")
        assert page.status_code == 200, machine
        assert typed in page.content and other not in page.content
