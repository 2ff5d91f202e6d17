"""The safe XML parser refuses every XML bomb and external entity quickly, with a line number."""

import time

import pytest

from xblocks.core.xml import UnsafeXMLError, parse

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""
XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<kafaat_lab>&xxe;</kafaat_lab>"""
XXE_DTD = """<?xml version="1.0"?>
<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">
<kafaat_lab/>"""
QUADRATIC = '<!DOCTYPE q [<!ENTITY a "' + "x" * 50000 + '">]><q>' + "&a;" * 5000 + "</q>"


@pytest.mark.parametrize(
    "payload", [BILLION_LAUGHS, XXE_FILE, XXE_DTD, QUADRATIC], ids=["laughs", "xxe", "dtd", "quadratic"]
)
def test_xml_bombs_are_refused_within_a_second_without_leaking_content(payload):
    started = time.monotonic()
    with pytest.raises(UnsafeXMLError) as error:
        parse(payload)
    assert time.monotonic() - started < 1
    assert "root:" not in str(error.value)
    assert "DOCTYPE" in str(error.value)


def test_undeclared_entity_reference_is_a_syntax_error_with_a_line_number():
    with pytest.raises(UnsafeXMLError) as error:
        parse("<a>\n<b>&nope;</b></a>")
    assert error.value.line == 2


def test_oversized_document_is_refused_before_parsing():
    with pytest.raises(UnsafeXMLError, match="limit"):
        parse("<a>" + "x" * 2000 + "</a>", max_bytes=1000)


def test_plain_document_parses():
    root = parse('<kafaat_lab display_name="x"><step id="a"/></kafaat_lab>')
    assert root.tag == "kafaat_lab" and root[0].get("id") == "a"


def test_doctype_text_inside_cdata_is_content_not_a_declaration():
    root = parse("<file><![CDATA[<!doctype html><html></html>]]></file>")
    assert root.text.startswith("<!doctype html>")


def test_doctype_hidden_after_a_prolog_comment_is_still_refused():
    with pytest.raises(UnsafeXMLError, match="DOCTYPE"):
        parse('<?xml version="1.0"?><!-- <a> --><!DOCTYPE x [<!ENTITY e "v">]><x>&e;</x>')
