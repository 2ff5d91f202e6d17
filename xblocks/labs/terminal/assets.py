"""Front-end assets of the terminal for XBlock fragments: vendored xterm.js, its addons and our glue.

The files are the lab block's public resources (``xblocks/labs/public/kafaat-terminal/``) and reach the page
as URLs from the runtime (``runtime.local_resource_url``): the LMS serves them as collected static files
(hashed names, cached for good), Studio and the workbench through their XBlock resource views. A URL
resource appears once in a page however many labs it holds, since fragments drop repeated resources,
and browsers cache it between pages, where inlined text (489 KB of xterm.js) was sent with every render.
"""

from __future__ import annotations

from collections.abc import Callable

from xblocks.core.resources import add_i18n_js

PUBLIC = "public/kafaat-terminal"
SCRIPTS = ("vendor/xterm/xterm.js", "vendor/xterm/addon-fit.js", "vendor/xterm/addon-web-links.js")
STYLES = ("vendor/xterm/xterm.css", "kafaat-terminal.css")
GLUE = "kafaat-terminal.js"

# The LMS loads RequireJS, and a UMD bundle that sees ``define.amd`` registers an anonymous AMD
# module instead of the global we need; hide ``define`` while the vendored files run. Scripts given by
# URL in a page run in document order, so the two snippets bracket them exactly.
_HIDE_AMD = "window.__kafaatDefine = window.define; window.define = undefined;"
_RESTORE_AMD = "window.define = window.__kafaatDefine; delete window.__kafaatDefine;"


def add_to_fragment(frag, resource_url: Callable[[str], str]) -> None:
    """Add xterm.js, the fit and web-links addons, their CSS and ``kafaat-terminal.js`` to ``frag``.

    ``resource_url`` turns a path under the block's ``public/`` folder into a URL the page can load:
    ``lambda path: block.runtime.local_resource_url(block, path)``.
    """
    for path in STYLES:
        frag.add_css_url(resource_url(f"{PUBLIC}/{path}"))
    frag.add_javascript(_HIDE_AMD)
    for path in SCRIPTS:
        frag.add_javascript_url(resource_url(f"{PUBLIC}/{path}"))
    frag.add_javascript(_RESTORE_AMD)
    add_i18n_js(frag)
    frag.add_javascript_url(resource_url(f"{PUBLIC}/{GLUE}"))
