"""A small web app the service tests run *inside* a sandbox (python3 of the base image, stdlib only).

GET / (a page), GET /headers (the request headers it received), POST /echo (the body's length),
GET /big?n=BYTES, GET /slow?s=SECONDS, GET /ws (a websocket that echoes text messages).
"""

import base64
import hashlib
import json
import socketserver
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body: bytes, kind="text/plain", status=200, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/headers":
            self.reply(json.dumps([[k.lower(), v] for k, v in self.headers.items()]).encode(), "application/json")
        elif url.path == "/big":
            self.reply(b"x" * int(query.get("n", "0")))
        elif url.path == "/slow":
            time.sleep(float(query.get("s", "1")))
            self.reply(b"late")
        elif url.path == "/ws":
            self.websocket()
        else:
            page = b"<!doctype html><title>Portal</title><h1 id='inside'>hello from inside the lab</h1>"
            self.reply(
                page,
                "text/html",
                extra=[("Set-Cookie", "kafaat_service=stolen; Path=/"), ("Set-Cookie", "app=1; Path=/")],
            )

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        self.reply(f"got {len(data)}".encode())

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self.rfile.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.rfile.read(8), "big")
            mask = self.rfile.read(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\x88\x00")
                return
            reply = b"echo:" + payload
            self.wfile.write(bytes([0x81, len(reply)]) + reply if len(reply) < 126 else b"")
            self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
