/* Kafaat browser terminal: xterm.js on the terminal gateway's websocket, and a transcript player.
 * KafaatTerminal.open(containerEl, {fetchToken, readOnly, i18n, instructions, onEnded}) -> {close(), focus(), type(text)}
 *   type(text) sends text as if the learner typed it, each line ended with Enter (false when read-only).
 *   onEnded(reason) is called when the shell ends ("exit") or the terminal stops retrying ("refused"),
 *   so the page can ask whether the lab itself ended (time limit, staff stop).
 * KafaatTerminal.replay(containerEl, castText, {i18n}) -> {close(), seek(seconds), setSpeed(factor)}
 *   with Play/Pause, Skip to end, a position slider and a speed choice (0.5x to 8x).
 * Needs the vendored xterm.js, FitAddon and WebLinksAddon globals (added by assets.add_to_fragment). */
(function (global) {
  "use strict";
  if (global.KafaatTerminal) { return; }

  var ACK_EVERY = 16384;        /* bytes rendered by xterm.js before we tell the gateway */
  var ACK_DELAY_MS = 50;        /* ...or after this long, whichever comes first */
  var LOG_LINES = 200;          /* lines kept in the screen-reader text view */
  var MAX_BACKOFF_MS = 15000;
  var MAX_REFUSALS = 3;
  var INPUT_SLICE = 16384;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function socketUrl(url) {
    if (/^wss?:\/\//.test(url)) { return url; }
    if (/^https?:\/\//.test(url)) { return url.replace(/^http/, "ws"); }
    return (global.location.protocol === "https:" ? "wss://" : "ws://") + global.location.host + url;
  }

  /* Terminal output as plain text for the accessible log: escape sequences removed, lines kept. */
  // eslint-disable-next-line no-control-regex -- ESC and BEL are what terminal escape sequences are made of
  var ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[^[\]()])/g;
  function TextLog(node) {
    var lines = [""];
    var dirty = false;
    var decoder = new TextDecoder("utf-8");
    function render() {
      dirty = false;
      node.textContent = lines.join("\n");
    }
    return {
      feed: function (bytes) {
        var text = decoder.decode(bytes, { stream: true }).replace(ESCAPES, "");
        for (var i = 0; i < text.length; i += 1) {
          var ch = text[i];
          if (ch === "\n") { lines.push(""); }
          else if (ch === "\r" || ch === "\x07") { /* carriage returns and bells are not text */ }
          else if (ch === "\b") { lines[lines.length - 1] = lines[lines.length - 1].slice(0, -1); }
          else { lines[lines.length - 1] += ch; }
        }
        if (lines.length > LOG_LINES) { lines = lines.slice(lines.length - LOG_LINES); }
        if (!dirty && !node.hidden) { dirty = true; global.setTimeout(render, 500); }
      },
      show: function () { render(); },
      clear: function () { lines = [""]; render(); }
    };
  }

  function newTerminal(screen, readOnly) {
    var term = new global.Terminal({
      cursorBlink: !readOnly,
      disableStdin: !!readOnly,
      scrollback: 5000,
      fontFamily: "'DejaVu Sans Mono', Menlo, Consolas, monospace",
      fontSize: 14,
      lineHeight: 1.2,
      allowProposedApi: false
    });
    var fit = new global.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.loadAddon(new global.WebLinksAddon.WebLinksAddon());
    term.open(screen);
    try { fit.fit(); } catch { /* not laid out yet; the ResizeObserver fits later */ }
    return { term: term, fit: fit };
  }

  /* The frame shared by the live terminal and the player: toolbar, status, screen, text log. */
  function buildFrame(container, i18n, extraClass) {
    var root = el("div", "kafaat-terminal " + (extraClass || ""));
    var skip = el("a", "kafaat-terminal__skip", i18n.gettext("Skip to instructions"));
    skip.href = "#";
    var hint = el("p", "kafaat-terminal__hint",
      i18n.gettext("In the terminal, press Escape then Tab to move the focus out of it."));
    var bar = el("div", "kafaat-terminal__bar");
    var status = el("span", "kafaat-terminal__status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var actions = el("span", "kafaat-terminal__actions");
    var logToggle = el("button", "kafaat-terminal__button kafaat-terminal__log-toggle", i18n.gettext("Show output as text"));
    logToggle.type = "button";
    logToggle.setAttribute("aria-pressed", "false");
    actions.appendChild(logToggle);
    bar.appendChild(status);
    bar.appendChild(actions);
    var screen = el("div", "kafaat-terminal__screen");
    var logNode = el("pre", "kafaat-terminal__log");
    logNode.setAttribute("role", "log");
    logNode.setAttribute("aria-live", "polite");
    logNode.setAttribute("aria-label", i18n.gettext("Terminal output as text"));
    logNode.tabIndex = 0;
    logNode.hidden = true;
    root.appendChild(skip);
    root.appendChild(hint);
    root.appendChild(bar);
    root.appendChild(screen);
    root.appendChild(logNode);
    container.appendChild(root);
    var log = TextLog(logNode);
    logToggle.addEventListener("click", function () {
      logNode.hidden = !logNode.hidden;
      logToggle.setAttribute("aria-pressed", logNode.hidden ? "false" : "true");
      logToggle.textContent = logNode.hidden ? i18n.gettext("Show output as text") : i18n.gettext("Hide text output");
      if (!logNode.hidden) { log.show(); }
    });
    return { root: root, skip: skip, bar: bar, actions: actions, status: status, screen: screen, log: log };
  }

  function focusInstructions(target, root) {
    var node = target;
    if (!node) {
      /* the nearest block root before the terminal holds the steps; fall back to the page */
      var block = root.closest(".kafaat-lab, [data-kafaat-instructions]") || root.parentNode;
      node = block && block.querySelector ? block.querySelector(".kafaat-lab__instructions, .kafaat-lab__steps, [data-kafaat-instructions]") : null;
    }
    if (node) {
      if (!node.hasAttribute("tabindex")) { node.setAttribute("tabindex", "-1"); }
      node.focus();
    }
  }

  function open(container, options) {
    options = options || {};
    var i18n = options.i18n || global.KafaatI18n({});
    var readOnly = !!options.readOnly;
    var frame = buildFrame(container, i18n, readOnly ? "kafaat-terminal--read-only" : "");
    var made = newTerminal(frame.screen, readOnly);
    var term = made.term;
    var fit = made.fit;
    var encoder = new TextEncoder();
    var reconnectButton = el("button", "kafaat-terminal__button kafaat-terminal__reconnect", i18n.gettext("Reconnect"));
    reconnectButton.type = "button";
    reconnectButton.hidden = true;
    frame.actions.insertBefore(reconnectButton, frame.actions.firstChild);

    var ws = null;
    var closed = false;
    var attempt = 0;
    var refusals = 0;
    var retryTimer = null;
    var pendingAck = 0;
    var ackTimer = null;
    var escapeArmed = false;

    function setStatus(text, state) {
      frame.status.textContent = text;
      frame.root.setAttribute("data-state", state);
    }

    function send(data) {
      if (ws && ws.readyState === global.WebSocket.OPEN) { ws.send(data); }
    }

    function flushAck() {
      if (ackTimer) { global.clearTimeout(ackTimer); ackTimer = null; }
      if (pendingAck > 0) {
        send(JSON.stringify({ type: "ack", bytes: pendingAck }));
        pendingAck = 0;
      }
    }

    function rendered(count) {
      /* xterm.js calls back once the chunk is parsed: only then does the gateway send more */
      pendingAck += count;
      if (pendingAck >= ACK_EVERY) { flushAck(); }
      else if (!ackTimer) { ackTimer = global.setTimeout(flushAck, ACK_DELAY_MS); }
    }

    function stopRetrying(text, state) {
      setStatus(text, state);
      reconnectButton.hidden = false;
      if (typeof options.onEnded === "function" && state !== "replaced") {
        try { options.onEnded(state); } catch { /* the page's own problem */ }
      }
    }

    function scheduleReconnect() {
      if (closed) { return; }
      attempt += 1;
      var delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempt - 1));
      delay = delay / 2 + Math.random() * delay / 2;
      setStatus(i18n.gettext("Reconnecting…"), "reconnecting");
      retryTimer = global.setTimeout(connect, delay);
    }

    function onControl(message) {
      if (message.type === "ready") {
        attempt = 0;
        refusals = 0;
        term.reset();   /* the gateway replays recent output next */
        reconnectButton.hidden = true;
        setStatus(readOnly ? i18n.gettext("Connected (read-only)") : i18n.gettext("Connected"), "connected");
        connectedAt = Date.now();
        lastOutputAt = 0;
        if (options.onConnected) { options.onConnected(); }
      } else if (message.type === "exit") {
        stopRetrying(i18n.gettext("The shell has ended. Press Reconnect to start a new one."), "ended");
      } else if (message.type === "replaced") {
        stopRetrying(i18n.gettext("This terminal was opened in another window."), "replaced");
      } else if (message.type === "lagging") {
        /* a watcher that fell behind the learner: the gateway closes, we reconnect and catch up */
        setStatus(i18n.gettext("Catching up with the learner's terminal…"), "reconnecting");
      } else if (message.type === "error") {
        setStatus(i18n.gettext("The lab environment is not available right now."), "unavailable");
      }
    }

    var connectedAt = 0;  /* when the shell of the current connection was announced */
    var lastOutputAt = 0; /* when its last output arrived (0: none yet) */

    function connect() {
      retryTimer = null;
      if (closed) { return; }
      reconnectButton.hidden = true;
      setStatus(attempt ? i18n.gettext("Reconnecting…") : i18n.gettext("Connecting…"), attempt ? "reconnecting" : "connecting");
      Promise.resolve().then(options.fetchToken).then(function (grant) {
        if (closed) { return; }
        var socket = new global.WebSocket(socketUrl(grant.url));
        socket.binaryType = "arraybuffer";
        ws = socket;
        var ended = false;
        socket.onopen = function () {
          socket.send(JSON.stringify({ type: "auth", token: grant.token, cols: term.cols, rows: term.rows }));
        };
        socket.onmessage = function (event) {
          if (typeof event.data === "string") {
            var message;
            try { message = JSON.parse(event.data); } catch { return; }
            if (message.type === "exit" || message.type === "replaced") { ended = true; }
            onControl(message);
            return;
          }
          var bytes = new Uint8Array(event.data);
          lastOutputAt = Date.now();
          term.write(bytes, function () { rendered(bytes.length); });
          frame.log.feed(bytes);
        };
        socket.onclose = function (event) {
          if (ws === socket) { ws = null; }
          if (closed || ended) { return; }
          /* 1008 is a refused token or origin; daphne can only send it as 4008 */
          if (event.code === 1008 || event.code === 4008) {
            refusals += 1;
            if (refusals >= MAX_REFUSALS) {
              stopRetrying(i18n.gettext("The terminal could not be opened. Reload the page to try again."), "refused");
              return;
            }
          }
          scheduleReconnect();
        };
      }, function () {
        scheduleReconnect();
      });
    }

    term.onData(function (data) {
      if (readOnly) { return; }
      /* a large paste goes in slices: the gateway refuses frames over 64 KiB */
      var bytes = encoder.encode(data);
      for (var start = 0; start < bytes.length; start += INPUT_SLICE) {
        send(bytes.subarray(start, start + INPUT_SLICE));
      }
    });
    term.onBinary(function (data) {
      if (readOnly) { return; }
      var bytes = new Uint8Array(data.length);
      for (var i = 0; i < data.length; i += 1) { bytes[i] = data.charCodeAt(i) & 255; }
      send(bytes);
    });
    term.onResize(function (size) {
      if (!readOnly) { send(JSON.stringify({ type: "resize", cols: size.cols, rows: size.rows })); }
    });
    term.attachCustomKeyEventHandler(function (event) {
      if (event.type !== "keydown") { return true; }
      if (event.key === "Tab" && escapeArmed) {
        escapeArmed = false;
        return false;   /* let the browser move the focus out of the terminal */
      }
      escapeArmed = event.key === "Escape";
      if (event.ctrlKey && event.shiftKey && (event.key === "C" || event.key === "c") && term.hasSelection()) {
        if (global.navigator.clipboard) { global.navigator.clipboard.writeText(term.getSelection()); }
        return false;
      }
      if (event.ctrlKey && event.shiftKey && (event.key === "V" || event.key === "v")) {
        return false;   /* the browser pastes into xterm's textarea, which sends it as input */
      }
      return true;
    });
    frame.skip.addEventListener("click", function (event) {
      event.preventDefault();
      focusInstructions(options.instructions, frame.root);
    });
    reconnectButton.addEventListener("click", function () {
      attempt = 0;
      refusals = 0;
      if (retryTimer) { global.clearTimeout(retryTimer); }
      connect();
    });
    var observer = null;
    if (global.ResizeObserver) {
      observer = new global.ResizeObserver(function () {
        try { fit.fit(); } catch { /* hidden */ }
      });
      observer.observe(frame.screen);
    }
    connect();

    return {
      terminal: term,
      focus: function () { term.focus(); },
      /* Whether the shell has shown something and then been quiet for quietMs (its prompt, most likely):
       * input typed while a login script still runs can be lost (sudo -i takes the terminal over). */
      settled: function (quietMs, maxMs) {
        var now = Date.now();
        if (!connectedAt) { return false; }
        if (now - connectedAt >= maxMs) { return true; }
        return lastOutputAt > 0 && now - lastOutputAt >= quietMs;
      },
      type: function (text) {
        if (readOnly) { return false; }
        /* as typed keys, not a paste: with bracketed paste the shell would wait for Enter */
        term.input(String(text).replace(/\r?\n/g, "\r").replace(/\r?$/, "\r"), true);
        return true;
      },
      close: function () {
        closed = true;
        if (retryTimer) { global.clearTimeout(retryTimer); }
        flushAck();
        if (ws) { ws.close(1000); }
        if (observer) { observer.disconnect(); }
        term.dispose();
        if (frame.root.parentNode) { frame.root.parentNode.removeChild(frame.root); }
      }
    };
  }

  /* Play an asciinema v2 cast (the transcript of a lab session) for staff review. */
  function replay(container, castText, options) {
    options = options || {};
    var i18n = options.i18n || global.KafaatI18n({});
    var lines = String(castText || "").split("\n");
    var header;
    var events = [];
    try { header = JSON.parse(lines[0] || "{}"); } catch { header = {}; }
    for (var i = 1; i < lines.length; i += 1) {
      if (!lines[i]) { continue; }
      try { events.push(JSON.parse(lines[i])); } catch { /* a torn last line */ }
    }
    var frame = buildFrame(container, i18n, "kafaat-terminal--replay");
    var made = newTerminal(frame.screen, true);
    var term = made.term;
    if (header.width && header.height) { term.resize(header.width, header.height); }
    var play = el("button", "kafaat-terminal__button kafaat-terminal__play", i18n.gettext("Play"));
    play.type = "button";
    var end = el("button", "kafaat-terminal__button kafaat-terminal__to-end", i18n.gettext("Skip to end"));
    end.type = "button";
    frame.actions.insertBefore(end, frame.actions.firstChild);
    frame.actions.insertBefore(play, frame.actions.firstChild);
    var encoder = new TextEncoder();
    var index = 0;
    var clock = 0;
    var timer = null;
    var playing = false;
    var speed = 1;
    var duration = events.length ? Math.max(0, Number(events[events.length - 1][0]) || 0) : 0;

    /* seek and speed: a slider over the recording's time (tenths of a second) and a speed choice */
    var controls = el("div", "kafaat-terminal__replay-controls");
    var seek = el("input", "kafaat-terminal__seek");
    seek.type = "range";
    seek.min = "0";
    seek.max = String(Math.round(duration * 10));
    seek.step = "1";
    seek.value = "0";
    seek.setAttribute("aria-label", i18n.gettext("Position in the recording"));
    var position = el("span", "kafaat-terminal__position");
    var speedLabel = el("label", "kafaat-terminal__speed-label", i18n.gettext("Speed") + " ");
    var speedChoice = el("select", "kafaat-terminal__speed");
    [0.5, 1, 2, 4, 8].forEach(function (factor) {
      var option = el("option", "", factor + "\u00d7");
      option.value = String(factor);
      option.selected = factor === 1;
      speedChoice.appendChild(option);
    });
    speedLabel.appendChild(speedChoice);
    controls.appendChild(seek);
    controls.appendChild(position);
    controls.appendChild(speedLabel);
    frame.root.insertBefore(controls, frame.screen);

    function clockText(seconds) {
      var whole = Math.max(0, Math.floor(seconds));
      var minutes = Math.floor(whole / 60);
      var rest = whole % 60;
      return minutes + ":" + (rest < 10 ? "0" : "") + rest;
    }
    function showPosition() {
      seek.value = String(Math.round(Math.min(clock, duration) * 10));
      position.textContent = clockText(Math.min(clock, duration)) + " / " + clockText(duration);
    }

    function apply(ev) {
      if (ev[1] === "o") {
        var bytes = encoder.encode(String(ev[2]));
        term.write(bytes);
        frame.log.feed(bytes);
      } else if (ev[1] === "r") {
        var size = String(ev[2]).split("x");
        var cols = parseInt(size[0], 10);
        var rows = parseInt(size[1], 10);
        if (cols > 0 && rows > 0) { term.resize(cols, rows); }
      } else if (ev[1] === "m") {
        frame.status.textContent = i18n.gettext("The recording was cut here because it reached its size limit.");
      }
    }
    function finish() {
      playing = false;
      play.textContent = i18n.gettext("Play");
      frame.status.textContent = i18n.gettext("End of recording.");
    }
    function step() {
      timer = null;
      while (index < events.length && events[index][0] <= clock + 0.001) { apply(events[index]); index += 1; }
      showPosition();
      if (index >= events.length) { finish(); return; }
      /* idle gaps are shortened to two seconds, as asciinema's idle_time_limit does */
      var wait = Math.min(2, events[index][0] - clock);
      clock = events[index][0];
      timer = global.setTimeout(step, wait * 1000 / speed);
    }
    function seekTo(seconds) {
      if (timer) { global.clearTimeout(timer); timer = null; }
      term.reset();
      frame.log.clear();
      if (header.width && header.height) { term.resize(header.width, header.height); }
      index = 0;
      clock = Math.max(0, Math.min(Number(seconds) || 0, duration));
      while (index < events.length && events[index][0] <= clock + 0.001) { apply(events[index]); index += 1; }
      showPosition();
      if (index >= events.length) { finish(); }
      else if (playing) { step(); }
    }
    seek.addEventListener("input", function () { seekTo(Number(seek.value) / 10); });
    speedChoice.addEventListener("change", function () {
      speed = Number(speedChoice.value) || 1;
      if (playing && timer) { global.clearTimeout(timer); timer = null; step(); }
    });
    play.addEventListener("click", function () {
      if (playing) {
        playing = false;
        if (timer) { global.clearTimeout(timer); timer = null; }
        play.textContent = i18n.gettext("Play");
        frame.status.textContent = i18n.gettext("Paused.");
        return;
      }
      if (index >= events.length) { index = 0; clock = 0; term.reset(); frame.log.clear(); }
      playing = true;
      play.textContent = i18n.gettext("Pause");
      frame.status.textContent = i18n.gettext("Playing.");
      step();
    });
    end.addEventListener("click", function () {
      if (timer) { global.clearTimeout(timer); timer = null; }
      while (index < events.length) { apply(events[index]); index += 1; }
      clock = duration;
      showPosition();
      finish();
    });
    frame.status.textContent = events.length ? i18n.gettext("Recording ready. Press Play.") : i18n.gettext("Nothing was recorded.");
    showPosition();
    return {
      terminal: term,
      seek: seekTo,
      setSpeed: function (factor) { speedChoice.value = String(factor); speedChoice.dispatchEvent(new Event("change")); },
      close: function () {
        if (timer) { global.clearTimeout(timer); }
        term.dispose();
        if (frame.root.parentNode) { frame.root.parentNode.removeChild(frame.root); }
      }
    };
  }

  global.KafaatTerminal = { open: open, replay: replay };
})(window);
