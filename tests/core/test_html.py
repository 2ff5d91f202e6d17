"""Authored Markdown is sanitised; learner-controlled text is escaped."""

import pytest

from xblocks.core.html import escape, render_markdown, sanitize

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "<svg><script>alert(1)</script></svg>",
    "</script><script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_payloads_render_inert(payload):
    out = render_markdown(payload).lower()
    assert "onerror" not in out
    assert "javascript:" not in out
    assert "<script" not in out
    assert "<svg" not in out


def test_markdown_keeps_code_blocks_and_links():
    out = render_markdown("Run `ls`\n\n```\nmake test\n```\n\n[docs](https://example.org)")
    assert '<code dir="ltr">ls</code>' in out and "make test" in out
    assert 'href="https://example.org"' in out and "noopener" in out


def test_escape_neutralises_check_output():
    assert escape("<b>&'\"") == "&lt;b&gt;&amp;&#x27;&quot;"


PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_raster_data_image_is_kept_and_every_other_data_url_is_dropped():
    assert f'<img alt="pixel" src="{PIXEL}">' in render_markdown(f"![pixel]({PIXEL})")
    for markup in (
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',  # a page of its own
        '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',  # SVG can carry script
        '<img src="data:text/html,<script>alert(1)</script>">',
        '<img src=" DATA:image/png;base64,AAAA">',
        '<img src="data:image/png;base64,AA AA">',
        '<img src="data:image/png,notbase64">',
    ):
        assert "data:" not in sanitize(markup).lower(), markup


def test_code_reads_left_to_right_in_right_to_left_text_and_an_authored_dir_is_dropped():
    out = render_markdown('شغّل `ls /tmp` ثم\n\n```\ncd ~/calc\n```\n\n<code dir="rtl">x</code>')
    assert '<code dir="ltr">ls /tmp</code>' in out
    assert '<pre dir="ltr"><code dir="ltr">cd ~/calc' in out
    assert 'dir="rtl"' not in out and out.count('dir="ltr"') == 4
