"""How the terminal draws text in real Chromium with the fonts Debian ships: every glyph visible, underscores too."""

from __future__ import annotations

import io
import json
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINE = "a_b proxy_pass"

# Where each underscore of the first row is drawn, and that row's box, in page pixels.
UNDERSCORE_CELLS = """(screen) => {
  const row = screen.querySelector('.xterm-rows > div');
  const rowBox = row.getBoundingClientRect();
  const cells = [];
  const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    for (let i = 0; i < text.data.length; i += 1) {
      const range = document.createRange();
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      const box = range.getBoundingClientRect();
      cells.push({ch: text.data[i], left: box.left, right: box.right});
    }
  }
  return {top: rowBox.top, bottom: rowBox.bottom, cells: cells, text: row.textContent};
}"""


def _bright_pixels(png: bytes, left: float, right: float, top: float, bottom: float, scale: float) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    count = 0
    for y in range(int(top * scale), int(bottom * scale)):
        for x in range(int(left * scale) + 1, int(right * scale) - 1):  # inside the cell, not its neighbours'
            if image.getpixel((x, y)) > 96:  # light text on the terminal's black
                count += 1
    return count


@pytest.mark.parametrize("zoom", [1, 2])
def test_underscores_are_drawn_inside_their_row_at_normal_and_double_zoom(live_server, browser_page, zoom):
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.set_viewport_size({"width": 1024, "height": 700})
    if zoom != 1:
        page.close()
        page = page.context.browser.new_page(device_scale_factor=zoom, viewport={"width": 1024, "height": 700})
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    page.locator(".kafaat-lab__score").first.filter(has_text="Score").wait_for(timeout=10_000)
    cast = "\n".join([json.dumps({"version": 2, "width": 40, "height": 4}), json.dumps([0.0, "o", LINE + "\r\n"])])
    page.evaluate(
        """(cast) => {
          const box = document.createElement('div');
          box.className = 'font-probe';
          box.style.inlineSize = '40rem';
          document.body.prepend(box);
          window.scrollTo(0, 0);
          KafaatTerminal.replay(box, cast, {i18n: KafaatI18n({})});
          box.querySelector('.kafaat-terminal__to-end').click();
        }""",
        cast,
    )
    screen = page.locator(".font-probe .xterm-screen")
    page.locator(".font-probe .xterm-rows > div").first.filter(has_text="proxy_pass").wait_for(timeout=5_000)
    page.wait_for_timeout(200)
    geometry = screen.evaluate(UNDERSCORE_CELLS)
    assert geometry["text"].startswith(LINE), geometry
    assert page.evaluate("getComputedStyle(document.querySelector('.font-probe .xterm-rows')).fontFamily").startswith(
        '"DejaVu Sans Mono"'
    )
    png = page.screenshot()
    cells = geometry["cells"]
    underscores = [cell for cell in cells if cell["ch"] == "_"]
    letter_a = cells[0]
    assert len(underscores) == 2
    # the letter is drawn (the probe works), and so is each underscore, inside its own row's box
    assert _bright_pixels(png, letter_a["left"], letter_a["right"], geometry["top"], geometry["bottom"], zoom) > 5
    for cell in underscores:
        lit = _bright_pixels(png, cell["left"], cell["right"], geometry["top"], geometry["bottom"], zoom)
        assert lit >= 3 * zoom, (cell, geometry["top"], geometry["bottom"], lit)
