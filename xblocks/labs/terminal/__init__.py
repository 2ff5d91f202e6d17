"""The browser terminal: an ASGI websocket gateway bridging xterm.js to a PTY inside a lab sandbox."""
