"""Defaults of every terminal gateway setting, overridable through ``settings.KAFAAT``."""

from xblocks.core.conf import AppSettings

terminal_settings = AppSettings(
    {
        # Browsers send Origin on every websocket upgrade; the site's own origin (LMS_ROOT_URL, see
        # xblocks.core.site) is always accepted, these are accepted besides; anything else is closed with 1008.
        "TERMINAL_ALLOWED_ORIGINS": [],
        # Where browsers reach the gateway. "" means the page's own host (the demo serves both);
        # TERMINAL_GATEWAY_URLS maps a lab host name to its gateway's base URL (wss://lab-1.example).
        "TERMINAL_GATEWAY_URL": "",
        # Where lab sessions are looked up: session_owner, terminal_target, can_watch, record_activity.
        "TERMINAL_SESSION_DIRECTORY": "xblocks.labs.api",
        "TERMINAL_GATEWAY_URLS": {},
        "TERMINAL_TOKEN_TTL": 60,  # seconds; capped at 60 whatever the setting says
        "TERMINAL_AUTH_TIMEOUT": 5.0,  # seconds to wait for the token message before closing
        # A shell outlives its websocket for this long, so a reload or a network blip re-attaches.
        "TERMINAL_RECONNECT_GRACE": 60.0,
        "TERMINAL_RING_BYTES": 64 * 1024,  # recent output replayed on (re)attach
        # Flow control: output sent but not yet acknowledged by xterm.js's write callbacks.
        "TERMINAL_HIGH_WATERMARK": 512 * 1024,
        "TERMINAL_LOW_WATERMARK": 128 * 1024,
        "TERMINAL_READ_CHUNK": 64 * 1024,
        # Only the learner's socket drives flow control: a read-only watcher with more unacknowledged
        # output than this is sent {"type": "lagging"} and closed with 4012 (keep it above the high
        # watermark plus a read and the ring, so a watcher alone with the shell is never dropped).
        "TERMINAL_WATCHER_MAX_LAG": 1024 * 1024,
        # Seconds a dropped watcher's socket has to take the notice and the close before it is cut.
        "TERMINAL_WATCHER_CLOSE_TIMEOUT": 5.0,
        "TERMINAL_MAX_INPUT_FRAME": 64 * 1024,
        "TERMINAL_ACTIVITY_INTERVAL": 30.0,  # seconds between record_activity calls per shell
        "TERMINAL_TRANSCRIPT_MAX_BYTES": 2 * 1024 * 1024,
        "TERMINAL_TRANSCRIPT_FLUSH_SECONDS": 5.0,  # batching keeps DB work off the keystroke path
        "TERMINAL_TRANSCRIPT_RETENTION_DAYS": 90,
        "TERMINAL_HISTORY_MAX_BYTES": 256 * 1024,
        # The service proxy (docs/services.md). Each service tab is served from its own origin, never
        # the LMS's: this template with {id} replaced by "<session>-<service>", e.g.
        # "https://{id}.labs.example-usercontent.org" (a wildcard DNS name and certificate) or, on one
        # machine, "http://{id}.svc.localhost:8000" (browsers resolve *.localhost to loopback).
        # "" turns service tabs off.
        "SERVICE_ORIGIN": "",
        "SERVICE_COOKIE_AGE": 8 * 3600,  # seconds; every request also checks the lab is still running
        "SERVICE_MAX_REQUEST_BYTES": 16 * 1024 * 1024,  # a larger request body is refused (413)
        "SERVICE_MAX_RESPONSE_BYTES": 256 * 1024 * 1024,  # a longer response is cut off
        "SERVICE_CONNECT_TIMEOUT": 5.0,  # seconds to connect to the port inside the machine
        "SERVICE_RESPONSE_TIMEOUT": 60.0,  # seconds for the service to send its response headers
        "SERVICE_IDLE_TIMEOUT": 60.0,  # seconds of silence after which a response is cut off
        "SERVICE_MAX_WEBSOCKET_MESSAGE": 16 * 1024 * 1024,  # bytes; a larger message closes the socket
        "SERVICE_TARGET_CACHE_SECONDS": 2.0,  # how long the proxy trusts "this lab is running"
    }
)
