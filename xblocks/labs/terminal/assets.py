"""Front-end assets of the terminal for XBlock fragments: vendored xterm.js, its addons and our glue."""

from __future__ import annotations

from xblocks.core.resources import add_i18n_js, resource_text

_PACKAGE = "xblocks.labs.terminal"
_VENDOR = ("static/vendor/xterm/xterm.js", "static/vendor/xterm/addon-fit.js", "static/vendor/xterm/addon-web-links.js")

# The LMS loads RequireJS, and a UMD bundle that sees ``define.amd`` registers an anonymous AMD
# module instead of the global we need; hide ``define`` while the vendored files run.
_HIDE_AMD = "window.__kafaatDefine = window.define; window.define = undefined;"
_RESTORE_AMD = "window.define = window.__kafaatDefine; delete window.__kafaatDefine;"


def add_to_fragment(frag) -> None:
    """Add xterm.js, the fit and web-links addons, their CSS and ``kafaat-terminal.js`` to ``frag``."""
    frag.add_css(resource_text(_PACKAGE, "static/vendor/xterm/xterm.css"))
    frag.add_css(resource_text(_PACKAGE, "static/kafaat-terminal.css"))
    frag.add_javascript(_HIDE_AMD)
    for path in _VENDOR:
        frag.add_javascript(resource_text(_PACKAGE, path))
    frag.add_javascript(_RESTORE_AMD)
    add_i18n_js(frag)
    frag.add_javascript(resource_text(_PACKAGE, "static/kafaat-terminal.js"))
