"""``kind="notebook"``: the lab starts Jupyter as the learner on the service's port, with no token of its own."""

from __future__ import annotations

import pytest

from xblocks.labs import runner
from xblocks.labs.definition import parse_lab
from xblocks.labs.sandbox import images
from xblocks.labs.sandbox.base import get_backend

pytestmark = pytest.mark.sandbox


def lab(image: str) -> str:
    return f"""<kafaat_lab display_name="Notebook" image="{image}" time_limit="10m" idle_timeout="10m">
  <service id="nb" port="8888" label="Notebook" kind="notebook"/>
  <step id="a" title="A"><check id="c">true</check></step>
</kafaat_lab>"""


def test_a_notebook_lab_on_an_image_without_jupyter_fails_to_start_and_says_why():
    backend = get_backend()
    with pytest.raises(runner.ProvisionError) as failed:
        runner.provision(backend, parse_lab(lab("base")), label="test-notebook-missing")
    assert "notebook nb on port 8888 did not start" in failed.value.detail
    assert "this image has no Jupyter" in failed.value.detail
    assert not [h for h in backend.inventory() if h.label == "test-notebook-missing"]  # destroyed


def _ai_built() -> bool:
    try:
        return "ai" in images.recipe_names() and images.find("ai").built
    except Exception:
        return False


@pytest.mark.skipif(not _ai_built(), reason="needs the 'ai' image (Jupyter): kafaat image build ai")
def test_jupyter_runs_as_the_learner_on_loopback_without_a_token():
    backend = get_backend()
    handle = runner.provision(backend, parse_lab(lab("ai")), label="test-notebook")
    try:
        sock = backend.connect(handle, 8888)
        sock.sendall(b"GET /api/contents HTTP/1.0\r\nHost: 1-nb.svc.localhost\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:300]  # no token asked
        who = backend.exec(handle, "ps -o user=,args= -C jupyter-notebook -C python3 | grep -m1 notebook")
        assert who.stdout.startswith("learner"), who.stdout
        listening = backend.exec(handle, "ss -ltnH 'sport = :8888'")
        assert "127.0.0.1:8888" in listening.stdout and "0.0.0.0:8888" not in listening.stdout
    finally:
        backend.destroy(handle)
