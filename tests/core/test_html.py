"""Authored Markdown is sanitised; learner-controlled text is escaped."""

import pytest

from xblocks.core.html import escape, render_markdown

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


def test_code_reads_left_to_right_in_right_to_left_text_and_an_authored_dir_is_dropped():
    out = render_markdown('شغّل `ls /tmp` ثم\n\n```\ncd ~/calc\n```\n\n<code dir="rtl">x</code>')
    assert '<code dir="ltr">ls /tmp</code>' in out
    assert '<pre dir="ltr"><code dir="ltr">cd ~/calc' in out
    assert 'dir="rtl"' not in out and out.count('dir="ltr"') == 4
