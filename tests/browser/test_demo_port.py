"""``make demo`` on another port: the terminal connects from that origin, and the credential, its PDF and
the verification page all link to that port (they used to point at :8000 whatever the demo's port)."""

from __future__ import annotations

import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _amina_number(database) -> str | None:
    """The number of amina's certificate, issued by the demo's seed (numbers are random), once it exists."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            row = connection.execute(
                "SELECT c.number FROM kafaat_certification_certificate c"
                " JOIN auth_user u ON u.id = c.user_id WHERE u.username = 'amina'"
            ).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def demo(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "KAFAAT_DEMO_PORT": str(port),
        "KAFAAT_VAR_DIR": str(tmp_path / "var"),
        "KAFAAT_DEMO_WORKERS": "1",
        "DJANGO_SETTINGS_MODULE": "demo.settings",
    }
    env.pop("KAFAAT_CELERY_EAGER", None)
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.run"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                pytest.fail("the demo exited:\n" + (tmp_path / "demo.log").read_text(errors="replace")[-4000:])
            number = _amina_number(tmp_path / "var" / "workbench.db")
            ready = b"Kafaat demo on http" in (tmp_path / "demo.log").read_bytes()  # printed once a Start works
            try:
                if ready and number and _get(f"{base}/kafaat/credentials/verify/{number}/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the demo did not answer:\n" + (tmp_path / "demo.log").read_text(errors="replace")[-4000:])
            time.sleep(1)
        yield base, number
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # the demo stops its worker, server and labs
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def test_the_demo_on_another_port_links_and_connects_there(demo, browser_page):
    from pypdf import PdfReader  # pylint: disable=import-outside-toplevel

    demo, NUMBER = demo  # noqa: N806  (amina's certificate number)

    verify = f"{demo}/kafaat/credentials/verify/{NUMBER}/"
    status, page_html = _get(verify)
    assert status == 200 and f"{demo}/kafaat/credentials/pdf/{NUMBER}/".encode() in page_html
    assert b"127.0.0.1:8000" not in page_html
    status, credential = _get(f"{verify}credential.json")
    assert status == 200 and f'"{demo}/kafaat/credentials/issuers/'.encode() in credential
    status, pdf = _get(f"{demo}/kafaat/credentials/pdf/{NUMBER}/")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", "")
    assert status == 200 and verify in text

    page = browser_page
    page.goto(f"{demo}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=90_000)
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=20_000)
    terminal.locator(".xterm").click()
    page.keyboard.type("echo port-$((40000 + 2))\n")
    terminal.locator(".xterm-rows").filter(has_text="port-40002").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Stop lab").click()
