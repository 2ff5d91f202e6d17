"""``python -m benchmarks services``: first byte of a lab's web app through the service proxy, and direct.

A web app runs inside a real sandbox (Python's threading HTTP server on a port of the sandbox's own
network namespace). Measured in the same run:

- **direct** (the baseline): from this process, a socket made in the sandbox's namespace
  (``backend.connect``: setns, socket, back) and a GET on a new connection, as close to the app as
  anything on the host can be;
- **proxy**: the demo's ASGI app under uvicorn (the service proxy as deployed, on its own origin's
  Host), with the learner's cookie, a kept-alive connection from the client as a browser keeps, and a
  new upstream connection per request, as the proxy makes;
- **proxy, new connection**: the same with a new client connection per request.

Figures: time to the first byte of the response (p50, p95) and to the whole response, in ms, and the
ratio to the direct connection. Target: proxy first byte p95 ≤ 5 ms (issue 13 §6).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks import report
from benchmarks.terminal import _free_port, _setup_django, _wait_listening

TARGETS = {"proxy_first_byte_p95_ms": 5.0}
APP = pathlib.Path(__file__).resolve().parents[1] / "tests" / "labs" / "terminal" / "service_app.py"
LAB = """<kafaat_lab display_name="Bench">
  <service id="portal" port="8080" label="Portal"/>
  <step id="a" title="A"><check id="c">true</check></step>
</kafaat_lab>"""
START = """cat > /tmp/service_app.py
nohup python3 /tmp/service_app.py 8080 >/dev/null 2>&1 &
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/8080) 2>/dev/null && exit 0; sleep 0.05; done; exit 1
"""
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def _direct(backend, handle) -> tuple[float, float]:
    started = time.perf_counter()
    sock = backend.connect(handle, 8080)
    sock.sendall(REQUEST)
    first = sock.recv(65536)
    first_byte = time.perf_counter() - started
    while chunk := sock.recv(65536):
        first += chunk
    sock.close()
    assert first.startswith(b"HTTP/1.") and b"hello from inside" in first, first[:200]
    return first_byte, time.perf_counter() - started


class _Proxy:
    def __init__(self, port: int, host: str, cookie: str, keep_alive: bool):
        self.port, self.host, self.cookie, self.keep_alive = port, host, cookie, keep_alive
        self.connection = None

    def get(self) -> tuple[float, float]:
        started = time.perf_counter()
        if self.connection is None or not self.keep_alive:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        self.connection.request("GET", "/", headers={"Host": self.host, "Cookie": f"kafaat_service={self.cookie}"})
        response = self.connection.getresponse()  # the status line and headers: the first bytes
        first_byte = time.perf_counter() - started
        body = response.read()
        total = time.perf_counter() - started
        assert response.status == 200 and b"hello from inside" in body, (response.status, body[:200])
        if not self.keep_alive:
            self.connection.close()
        return first_byte, total


NOTEBOOK_LAB = """<kafaat_lab display_name="Bench notebook" image="ai" memory="768M">
  <service id="nb" port="8888" label="Notebook" kind="{kind}"/>
  <step id="a" title="A"><check id="c">true</check></step>
</kafaat_lab>"""


def _first_page(backend, handle, path: bytes) -> bytes:
    sock = backend.connect(handle, 8888)
    sock.sendall(b"GET " + path + b" HTTP/1.0\r\nHost: 1-nb.svc.localhost\r\n\r\n")
    reply = sock.recv(65536)
    sock.close()
    return reply


def notebook_start(runs: int) -> list[dict]:
    """Create→first page of a notebook lab (``ai`` image, Jupyter started by the runner) against the
    same lab with a ``web`` service (create only), in the same run."""
    from xblocks.labs import runner
    from xblocks.labs.definition import parse_lab
    from xblocks.labs.sandbox import images
    from xblocks.labs.sandbox.base import get_backend

    if not images.find("ai").built:
        print("notebook rows skipped: the 'ai' image is not built (kafaat image build ai)")
        return []
    backend = get_backend()
    rows = []
    for kind in ("web", "notebook"):
        lab = parse_lab(NOTEBOOK_LAB.replace("{kind}", kind))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            handle = runner.provision(backend, lab, label=f"bench-notebook-{uuid.uuid4().hex[:6]}")
            try:
                if kind == "notebook":
                    assert _first_page(backend, handle, b"/tree").startswith(b"HTTP/1.1 200")
                times.append((time.perf_counter() - started) * 1000)
            finally:
                backend.destroy(handle)
        summary = report.summary(times)
        rows.append({"lab": f"ai image, {kind} service", "p50_ms": summary["p50"], "max_ms": summary["max"]})
    for row in rows:
        row["ratio"] = report.ratio(row["p50_ms"], rows[0]["p50_ms"])
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks services", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--notebook-runs", type=int, default=5, help="notebook labs started (0: none)")
    args = parser.parse_args(argv)

    port = _free_port()
    os.environ["KAFAAT_SERVICE_ORIGIN"] = f"http://{{id}}.svc.localhost:{port}"
    var_dir = tempfile.mkdtemp(prefix="kafaat-bench-services-")
    _setup_django(var_dir)
    from django.contrib.auth import get_user_model

    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import SandboxSpec, User, get_backend
    from xblocks.labs.terminal import api

    backend = get_backend()
    handle = backend.create(SandboxSpec(label=f"bench-services-{uuid.uuid4().hex[:6]}"))
    server = None
    try:
        assert backend.exec(handle, START, user=User.LEARNER, stdin=APP.read_bytes(), timeout=30).ok
        user, _ = get_user_model().objects.get_or_create(username="bench-learner")
        session = LabSession.objects.create(
            user=user,
            usage_key=f"bench-{uuid.uuid4().hex}",
            live_key=uuid.uuid4().hex,
            definition=LAB,
            definition_hash=hashlib.sha256(LAB.encode()).hexdigest(),
            seed="0" * 64,
            state="ready",
            handle=handle.as_json(),
            host=handle.host,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "demo.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
            + ["--lifespan", "off", "--log-level", "warning", "--no-access-log"],
            env=dict(os.environ),
        )
        _wait_listening(port, server)
        host = f"{session.pk}-portal.svc.localhost:{port}"
        token = api.mint_service_token(user=user, session_id=session.pk, service_id="portal", mode="rw")["token"]
        exchange = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        exchange.request(
            "POST",
            "/_kafaat/auth",
            body=f"token={token}&next=/".encode(),
            headers={"Host": host, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = exchange.getresponse()
        response.read()
        cookie = response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
        exchange.close()

        clients = {
            "direct (setns socket)": lambda: _direct(backend, handle),
            "proxy, kept-alive client": _Proxy(port, host, cookie, keep_alive=True).get,
            "proxy, new connection": _Proxy(port, host, cookie, keep_alive=False).get,
        }
        rows = []
        for name, get in clients.items():
            for _ in range(20):  # warm-up
                get()
            first, total = [], []
            for _ in range(args.requests):
                a, b = get()
                first.append(a * 1000)
                total.append(b * 1000)
            first_summary, total_summary = report.summary(first), report.summary(total)
            rows.append(
                {
                    "path": name,
                    "first_byte_p50_ms": first_summary["p50"],
                    "first_byte_p95_ms": first_summary["p95"],
                    "whole_p50_ms": total_summary["p50"],
                    "whole_p95_ms": total_summary["p95"],
                }
            )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        backend.destroy(handle)

    baseline = rows[0]
    for row in rows:
        row["p50_ratio"] = report.ratio(row["first_byte_p50_ms"], baseline["first_byte_p50_ms"])
        row["p95_ratio"] = report.ratio(row["first_byte_p95_ms"], baseline["first_byte_p95_ms"])
    report.print_table(
        f"Services: {args.requests} GETs of a small page served inside a sandbox (ratios: ÷ direct)",
        rows,
        ["path", "first_byte_p50_ms", "first_byte_p95_ms", "p50_ratio", "p95_ratio", "whole_p50_ms", "whole_p95_ms"],
    )
    notebooks = notebook_start(args.notebook_runs) if args.notebook_runs else []
    if notebooks:
        report.print_table(
            "Notebook: Start to Jupyter's first page (ratio: ÷ the same lab without Jupyter)",
            notebooks,
            ["lab", "p50_ms", "max_ms", "ratio"],
        )
    proxied = rows[1]
    target = TARGETS["proxy_first_byte_p95_ms"]
    print(f"\ntarget: proxy first byte p95 ≤ {target} ms: {proxied['first_byte_p95_ms']:.2f} ms")
    report.save(
        "services",
        {"rows": rows, "notebooks": notebooks, "targets": TARGETS, "requests": args.requests, "cores": os.cpu_count()},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
