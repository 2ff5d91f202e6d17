/* Kafaat lab block: Start / Check / Reset / Stop, honest start-up phases, countdown, terminal and staff panel.
 * One initialiser per block (KafaatLabBlock); every learner-controlled text is set with textContent.
 * Hints arrive as HTML already sanitised on the server (nh3); nothing else is ever parsed as HTML. */
function KafaatLabBlock(runtime, element, args) {
  "use strict";
  if (element && element.jquery) { element = element[0]; }
  var root = element.querySelector(".kafaat-lab");
  if (!root || !root.querySelector(".kafaat-lab__start")) { return; }
  var i18n = KafaatI18n(args.i18n);
  var _ = function (text) { return i18n.gettext(text); };
  var fmt = function (text, values) { return i18n.interpolate ? i18n.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, function (m, k) { return values[k]; }); };
  var LIVE = { requested: true, provisioning: true, ready: true };
  var IDLE_WARNING = 120; /* seconds before the idle timeout when the page offers to keep the lab */
  var PHASES = ["queued", "creating", "copying_files", "running_setup", "ready"];
  var PHASE_TEXT = {
    queued: _("Waiting for a lab machine…"),
    creating: _("Creating your environment…"),
    copying_files: _("Copying the lab files…"),
    running_setup: _("Running the lab's setup…"),
    ready: _("Your lab is ready.")
  };
  /* While a lab starts the page asks often at first (a sandbox is usually ready within ~100 ms),
   * then backs off: QUICK_POLLS polls FIRST_POLL_MS apart, then doubling up to MAX_POLL_MS. */
  var FIRST_POLL_MS = 50;
  var QUICK_POLLS = 4;
  var MAX_POLL_MS = 1000;
  var state = {
    status: args.status ? JSON.parse(decodeURIComponent(args.status)) : null, terminal: null, terminalFor: null,
    grant: null, ahead: false, timer: null, poller: null, polls: 0, deadline: null, busy: false, run: null,
    machine: "" /* the machine whose terminal is shown: "" is the lab's first */
  };

  function q(selector, from) { return (from || root).querySelector(selector); }
  function qa(selector, from) { return Array.prototype.slice.call((from || root).querySelectorAll(selector)); }
  function post(handler, data) {
    return KafaatHttp.postJSON(runtime.handlerUrl(element, handler), data).then(function (reply) {
      if (!reply.ok || reply.body === null) {
        var error = new Error((reply.body && reply.body.error) || _("Something went wrong. Please try again."));
        error.status = reply.status;
        throw error;
      }
      return reply.body;
    });
  }
  function say(text) { q(".kafaat-lab__status").textContent = text || ""; }
  function failed(error) { say(error && error.message ? error.message : _("Something went wrong. Please try again.")); }

  /* ---------------------------------------------------------------- rendering */

  function show(node, visible) { if (node) { node.hidden = !visible; } }

  function formatClock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function renderCountdown() {
    var node = q(".kafaat-lab__countdown");
    var warning = q(".kafaat-lab__warning");
    if (!state.deadline) { show(node, false); show(warning, false); return; }
    var left = Math.max(0, Math.round((state.deadline - Date.now()) / 1000));
    node.textContent = fmt(_("Time left: %(time)s"), { time: formatClock(left) });
    show(node, true);
    if (left <= args.expiryWarning) {
      warning.textContent = fmt(_("Your lab ends in %(time)s. Save anything you need."), { time: formatClock(left) });
      show(warning, true);
    } else { show(warning, false); }
    if (left === 0) { state.deadline = null; schedulePoll(500); }
    var idle = q(".kafaat-lab__idle");
    if (state.idleDeadline) {
      var idleLeft = Math.max(0, Math.round((state.idleDeadline - Date.now()) / 1000));
      q(".kafaat-lab__idle-text").textContent =
        fmt(_("Your lab seems idle and stops in %(time)s."), { time: formatClock(idleLeft) });
      show(idle, idleLeft <= IDLE_WARNING);
      if (idleLeft === 0) { state.idleDeadline = null; schedulePoll(500); }
    } else { show(idle, false); }
  }

  function renderSteps(status) {
    var ready = status.state === "ready";
    (status.steps || []).forEach(function (step) {
      var item = q('.kafaat-lab__step[data-step="' + CSS.escape(step.id) + '"]');
      if (!item) { return; }
      item.classList.toggle("kafaat-lab__step--passed", step.passed);
      item.classList.toggle("kafaat-lab__step--locked", !step.open);
      show(q(".kafaat-lab__step-locked", item), !step.open);
      var reading = !step.has_checks && !(step.flags && step.flags.length);
      q(".kafaat-lab__step-state", item).textContent = reading ? _("Nothing to check: read on")
        : step.passed ? fmt(i18n.ngettext("Passed · %(points)s of %(max)s point", "Passed · %(points)s of %(max)s points",
                            step.max_points), { points: step.points, max: step.max_points })
        : fmt(i18n.ngettext("%(points)s of %(max)s point", "%(points)s of %(max)s points", step.max_points),
              { points: step.points, max: step.max_points });
      var attempts = q(".kafaat-lab__attempts", item);
      attempts.textContent = step.attempts_left === null ? "" :
        fmt(i18n.ngettext("%(count)s attempt left", "%(count)s attempts left", step.attempts_left), { count: step.attempts_left });
      var canAct = ready && step.open && step.attempts_left !== 0;
      qa(".kafaat-lab__check", item).forEach(function (b) { b.disabled = !canAct || state.busy; });
      qa(".kafaat-lab__flag", item).forEach(function (form) {
        var done = step.flags_accepted.indexOf(form.getAttribute("data-flag")) !== -1;
        q(".kafaat-lab__flag-submit", form).disabled = !canAct || done || state.busy;
        q(".kafaat-lab__flag-input", form).disabled = !canAct || done;
        if (done) { q(".kafaat-lab__flag-input", form).value = _("Accepted"); }
      });
      var hint = q(".kafaat-lab__hint", item);
      if (hint) {
        hint.disabled = !(ready && step.open) || step.next_hint_cost === null;
        hint.textContent = step.next_hint_cost === null ? _("No more hints") : step.next_hint_cost
          ? fmt(i18n.ngettext("Show a hint (costs %(count)s point)", "Show a hint (costs %(count)s points)", step.next_hint_cost), { count: step.next_hint_cost })
          : _("Show a hint");
      }
      var hints = q(".kafaat-lab__hints", item);
      if (hints.childElementCount !== step.hints.length) {
        hints.textContent = "";
        step.hints.forEach(function (html, index) {
          var box = document.createElement("div");
          box.className = "kafaat-lab__hint-text";
          box.dir = "auto"; /* authored: English hints stay left to right in an Arabic page */
          box.setAttribute("aria-label", fmt(_("Hint %(number)s"), { number: index + 1 }));
          box.innerHTML = html; /* sanitised server-side by nh3 (authored Markdown) */
          hints.appendChild(box);
        });
      }
      var solutionButton = q(".kafaat-lab__solution", item);
      if (solutionButton) { solutionButton.disabled = !(ready && step.open) || step.solution_revealed; }
      var solution = q(".kafaat-lab__solution-box", item);
      if (step.solution !== null && step.solution !== undefined) {
        solution.textContent = "";
        var note = document.createElement("p");
        note.textContent = step.solution_ungraded ? _("Solution (this step earns no points now):")
          : _("Solution (you passed this step first: its points are kept):");
        var pre = document.createElement("pre");
        pre.dir = "ltr"; /* a shell script */
        pre.textContent = step.solution;
        solution.appendChild(note);
        solution.appendChild(pre);
        show(solution, true);
      }
    });
  }

  function stepStatus(id) {
    var steps = (state.status && state.status.steps) || [];
    for (var i = 0; i < steps.length; i += 1) { if (steps[i].id === id) { return steps[i]; } }
    return null;
  }

  function render(status) {
    state.status = status;
    var st = status ? status.state : "";
    var live = !!LIVE[st];
    q(".kafaat-lab__score").textContent = status ? fmt(_("Score: %(score)s / %(max)s"), { score: status.score, max: status.max_score }) : "";
    show(q(".kafaat-lab__start"), !live && st !== "stopping");
    show(q(".kafaat-lab__reset"), live);
    show(q(".kafaat-lab__stop"), live);
    q(".kafaat-lab__start").disabled = state.busy;
    var starting = st === "requested" || st === "provisioning";
    show(q(".kafaat-lab__progress"), starting);
    if (starting) {
      var index = Math.max(0, PHASES.indexOf(status.phase));
      q(".kafaat-lab__progress-bar").value = index;
      q(".kafaat-lab__phase").textContent = PHASE_TEXT[status.phase] || PHASE_TEXT.queued;
    }
    if (st === "ready") { say(status.completed ? _("Your lab is ready. Every step has passed.") : _("Your lab is ready.")); }
    else if (starting) { say(PHASE_TEXT[status.phase] || PHASE_TEXT.queued); }
    else if (st === "stopping") { say(_("Stopping your lab…")); }
    else if (st === "failed") { say(status.learner_message || _("Your lab could not start. Please try again.")); }
    else if (st === "stopped") { say(_("Your lab has ended. Start it again to continue; your points are kept.")); }
    else { say(""); }
    state.deadline = st === "ready" && status.seconds_left !== null ? Date.now() + status.seconds_left * 1000 : null;
    state.idleDeadline = st === "ready" && status.idle_seconds_left !== null && status.idle_seconds_left !== undefined
      ? Date.now() + status.idle_seconds_left * 1000 : null;
    renderCountdown();
    if (status) { renderSteps(status); }
    show(q(".kafaat-lab__finish"), !!(status && status.completed));
    syncTerminal(status);
    syncServices(status);
    renderCommands(status);
    typeForeground();
    if (starting || st === "stopping") { schedulePoll(nextPollDelay()); } else { state.polls = 0; }
    /* a run started in another tab, or before a reload: follow it like our own */
    if (status && status.active_run && !state.run) { trackRun(status.active_run); }
    else if (state.run) { sayRun(state.run); }
  }

  /* ---------------------------------------------------------------- commands in the instructions */

  /* Every authored <pre> (a command block) gets Copy and Run; Run types it into the learner's terminal. */
  function decorateCommands() {
    qa(".kafaat-lab__intro pre, .kafaat-lab__step-body pre").forEach(function (pre) {
      if (pre.classList.contains("kafaat-lab__command")) { return; }
      pre.classList.add("kafaat-lab__command");
      pre.dir = "ltr"; /* commands read left to right in an Arabic page */
      var actions = document.createElement("div");
      actions.className = "kafaat-lab__command-actions";
      [["kafaat-lab__copy", _("Copy")], ["kafaat-lab__run-command", _("Run in the terminal")]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "kafaat-lab__button kafaat-lab__button--quiet kafaat-lab__button--small " + spec[0];
        button.textContent = spec[1];
        actions.appendChild(button);
      });
      pre.parentNode.insertBefore(actions, pre.nextSibling);
    });
  }

  function renderCommands(status) {
    var ready = !!(status && status.state === "ready" && state.terminal && state.terminal.type);
    qa(".kafaat-lab__run-command").forEach(function (button) {
      var item = button.closest(".kafaat-lab__step");
      button.disabled = !ready || (item ? item.classList.contains("kafaat-lab__step--locked") : false);
    });
  }

  function commandText(button) {
    var pre = button.parentNode.previousElementSibling;
    return pre ? pre.textContent.replace(/\n+$/, "") : "";
  }

  function acknowledge(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { return navigator.clipboard.writeText(text); }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "kafaat-lab__copy-buffer";
    root.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    root.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest(".kafaat-lab__copy, .kafaat-lab__run-command");
    if (!button || !root.contains(button)) { return; }
    var text = commandText(button);
    if (button.classList.contains("kafaat-lab__copy")) {
      copyText(text).then(function () { acknowledge(button, _("Copied")); },
        function () { acknowledge(button, _("Select the command and copy it")); });
    } else if (state.terminal && state.terminal.type && state.terminal.type(text)) {
      acknowledge(button, _("Sent to the terminal"));
      state.terminal.focus();
    }
  });

  decorateCommands();

  /* ---------------------------------------------------------------- foreground commands */

  /* The lab's <foreground> is typed into the terminal once it shows the shell, and a step's once the
   * step is reached (open), each once per session: visibly, as the Run button types a command. A page
   * reloaded in the same tab does not type them again (sessionStorage, or memory when it is refused). */
  var typedInMemory = {};
  function alreadyTyped(key) {
    try { if (window.sessionStorage.getItem(key)) { return true; } } catch { /* storage refused */ }
    return !!typedInMemory[key];
  }
  function rememberTyped(key) {
    typedInMemory[key] = true;
    try { window.sessionStorage.setItem(key, "1"); } catch { /* storage refused */ }
  }
  var SETTLE_QUIET_MS = 400, SETTLE_MAX_MS = 5000;
  function typeForeground() {
    var status = state.status;
    if (!status || status.state !== "ready" || !state.terminalConnected || !state.terminal || !state.terminal.type) { return; }
    if (state.terminalFor !== status.session_id) { return; }
    /* wait for the shell's prompt: what is typed while its login scripts run may be lost */
    if (state.terminal.settled && !state.terminal.settled(SETTLE_QUIET_MS, SETTLE_MAX_MS)) {
      if (!state.foregroundTimer) {
        state.foregroundTimer = window.setTimeout(function () { state.foregroundTimer = null; typeForeground(); }, 150);
      }
      return;
    }
    var pending = [];
    if (root.getAttribute("data-foreground")) { pending.push(["lab", root.getAttribute("data-foreground")]); }
    (status.steps || []).forEach(function (step) {
      var item = q('.kafaat-lab__step[data-step="' + step.id + '"]');
      var text = item ? item.getAttribute("data-foreground") : "";
      if (step.open && text) { pending.push(["step:" + step.id, text]); }
    });
    pending.forEach(function (entry) {
      var key = "kafaat-lab-typed:" + status.session_id + ":" + entry[0];
      if (!alreadyTyped(key) && state.terminal.type(entry[1])) { rememberTyped(key); }
    });
  }

  /* ---------------------------------------------------------------- terminal */

  function terminalWanted() { return !!(args.terminal && window.KafaatTerminal); }
  var PENDING = {}; /* terminalFor while the Start answer, which names the session, is on its way */

  /* The terminal is built while the lab starts; its first token arrives with the "ready" status
   * (the pending grant below), and any later one (a reconnect) comes from terminal_token. */
  function pendingGrant() {
    var grant = {};
    grant.promise = new Promise(function (resolve) { grant.resolve = resolve; });
    return grant;
  }
  function fetchToken() {
    var grant = state.grant;
    if (grant) { return grant.promise; }
    return post("terminal_token", state.machine ? { machine: state.machine } : {});
  }
  function settleGrant(status) {
    var grant = state.grant;
    if (!grant) { return; }
    state.grant = null;
    /* the token that came with the status opens the first machine */
    grant.resolve((!state.machine && status.terminal) || post("terminal_token", state.machine ? { machine: state.machine } : {}));
  }

  function openTerminal(sessionId, ahead) {
    if (!ahead) { show(q(".kafaat-lab__terminal-placeholder"), false); }
    state.terminalFor = sessionId;
    state.terminal = window.KafaatTerminal.open(q(".kafaat-lab__terminal-screen"), {
      fetchToken: fetchToken,
      readOnly: false,
      i18n: i18n,
      instructions: q(".kafaat-lab__instructions"),
      /* the shell ended: the lab may have ended too (time limit, staff stop), so ask */
      onEnded: function () { schedulePoll(0); },
      onConnected: function () { state.terminalConnected = true; typeForeground(); }
    });
  }

  /* Before any Start, once the page is idle: build xterm.js ahead, hidden, waiting for the grant of a
   * Start. Building it holds the page's main thread for about 100 ms on a small machine; built at the
   * click, it held back the Start answer (a warm pool's is ready at once) by that much. */
  function buildAhead() {
    var status = state.status;
    if (!terminalWanted() || state.terminal || (status && LIVE[status.state])) { return; }
    q(".kafaat-lab__terminal-screen").classList.add("kafaat-lab__terminal-screen--ahead");
    state.grant = pendingGrant();
    openTerminal(PENDING, true);
    state.ahead = true;
  }
  function buildAheadWhenIdle() {
    if (window.requestIdleCallback) { window.requestIdleCallback(buildAhead, { timeout: 2000 }); }
    else { window.setTimeout(buildAhead, 300); }
  }
  /* The terminal built ahead becomes this Start's: shown in place of the placeholder. */
  function revealAhead() {
    if (!state.ahead) { return; }
    state.ahead = false;
    q(".kafaat-lab__terminal-screen").classList.remove("kafaat-lab__terminal-screen--ahead");
    show(q(".kafaat-lab__terminal-placeholder"), false);
  }

  /* Start pressed: use the terminal built ahead, or build xterm.js while the Start request is on its way. */
  function prepareTerminal() {
    if (!terminalWanted()) { return; }
    if (state.ahead) { revealAhead(); return; }
    if (state.terminal) { return; }
    state.grant = pendingGrant();
    openTerminal(PENDING);
  }

  function syncTerminal(status) {
    var st = status ? status.state : "";
    var ready = st === "ready";
    var starting = st === "requested" || st === "provisioning";
    var wanted = (ready || starting) && status.session_id !== null && status.session_id !== undefined;
    var placeholder = q(".kafaat-lab__terminal-placeholder");
    if (wanted && state.terminalFor === PENDING) {
      revealAhead(); /* a lab started elsewhere (another tab) also takes the terminal built ahead */
      state.terminalFor = status.session_id; /* the terminal built when Start was pressed is this lab's */
      if (ready) { settleGrant(status); }
    } else if (wanted && state.terminalFor !== status.session_id) {
      closeTerminal();
      if (!terminalWanted()) {
        if (ready) { placeholder.textContent = _("The terminal is not available on this site; your lab is running."); }
        return;
      }
      if (starting || status.terminal) { state.grant = pendingGrant(); }
      openTerminal(status.session_id);
      if (ready) { settleGrant(status); }
    } else if (wanted && ready) {
      settleGrant(status);
    } else if (!wanted && state.terminal && !state.ahead) {
      closeTerminal();
      placeholder.textContent = _("The terminal opens here when your lab is ready.");
      show(placeholder, true);
      buildAheadWhenIdle(); /* for the next Start */
    }
  }
  /* A lab of several machines: one tab per machine. Choosing one reopens the terminal on it; the shell
   * of the machine left keeps running on the gateway for a while, so coming back finds it again. */
  function chooseMachine(tab) {
    var machine = tab.getAttribute("data-machine") || "";
    if (machine === state.machine) { return; }
    qa(".kafaat-lab__machine").forEach(function (other) { other.setAttribute("aria-selected", String(other === tab)); });
    state.machine = machine;
    var status = state.status;
    if (!state.terminal || !status || status.state !== "ready") { return; }
    closeTerminal();
    openTerminal(status.session_id);
  }
  qa(".kafaat-lab__machine").forEach(function (tab) {
    tab.addEventListener("click", function () { chooseMachine(tab); });
  });

  function closeTerminal() {
    if (state.terminal) { try { state.terminal.close(); } catch { /* already closed */ } }
    state.ahead = false;
    q(".kafaat-lab__terminal-screen").classList.remove("kafaat-lab__terminal-screen--ahead");
    state.terminal = null;
    state.terminalFor = null;
    state.terminalConnected = false;
    state.grant = null;
    q(".kafaat-lab__terminal-screen").textContent = "";
  }

  /* ---------------------------------------------------------------- service tabs */

  /* Each service (a web app or notebook in the lab) is a tab beside the terminal: an iframe on the
   * service's own origin, never this page's. Opening it asks service_token for a single-use token and
   * posts it to the origin's /_kafaat/auth in the iframe (never in a URL), which sets that origin's
   * cookie and redirects to the service. */
  var services = { loaded: {}, sessionId: null, selected: "terminal" };

  function tabs() { return qa(".kafaat-lab__tab"); }
  function panel(id) { return q('.kafaat-lab__panel[data-panel="' + CSS.escape(id) + '"]'); }

  function selectTab(id, focus) {
    tabs().forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === id;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) { tab.focus(); }
    });
    qa(".kafaat-lab__panel").forEach(function (node) { node.hidden = node.getAttribute("data-panel") !== id; });
    services.selected = id;
    if (id === "terminal") {
      if (state.terminal && state.terminal.focus) { state.terminal.focus(); }
    } else if (!services.loaded[id]) {
      openService(id);
    }
  }

  function postToService(grant, target) {
    var form = document.createElement("form");
    form.method = "POST";
    form.action = grant.url;
    form.target = target;
    form.hidden = true;
    [["token", grant.token], ["next", grant.path || "/"], ["lang", root.getAttribute("lang") || ""]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    root.appendChild(form);
    form.submit();
    /* removed once the navigation has started: a form taken out at once may cancel its submission */
    window.setTimeout(function () { if (form.parentNode) { form.parentNode.removeChild(form); } }, 5000);
  }

  function serviceNote(id, text) { q(".kafaat-lab__service-status", panel(id)).textContent = text; }

  function openService(id, newWindow) {
    var box = panel(id);
    if (!box || !state.status || state.status.state !== "ready") { return; }
    if (!newWindow) { services.loaded[id] = true; }
    serviceNote(id, _("Opening…"));
    post("service_token", { service: id }).then(function (grant) {
      serviceNote(id, "");
      if (newWindow) { postToService(grant, "_blank"); return; }
      /* a fresh frame named before it is inserted: a form finds a frame by the name it was created with */
      var old = q(".kafaat-lab__service-frame", box);
      var frame = document.createElement("iframe");
      frame.className = old.className;
      frame.title = old.title;
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.name = "kafaat-service-" + id + "-" + Math.random().toString(36).slice(2);
      old.parentNode.replaceChild(frame, old);
      postToService(grant, frame.name);
    }, function (error) {
      services.loaded[id] = false;
      serviceNote(id, error && error.message ? error.message : _("This service could not be opened."));
    });
  }

  function syncServices(status) {
    if (!tabs().length) { return; }
    var ready = !!(status && status.state === "ready" && status.session_id !== null && status.session_id !== undefined);
    var session = ready ? status.session_id : null;
    if (session !== services.sessionId) { /* another lab, or none: every frame starts afresh */
      services.sessionId = session;
      services.loaded = {};
      qa(".kafaat-lab__service").forEach(function (box) {
        var frame = q(".kafaat-lab__service-frame", box);
        frame.src = "about:blank";
        frame.hidden = true;
        q(".kafaat-lab__service-status", box).textContent = ready ? "" : _("This service opens here when your lab is ready.");
      });
    }
    tabs().forEach(function (tab) { if (tab.getAttribute("data-tab") !== "terminal") { tab.disabled = !ready; } });
    qa(".kafaat-lab__service-reload, .kafaat-lab__service-window").forEach(function (button) { button.disabled = !ready; });
    if (!ready && services.selected !== "terminal") { selectTab("terminal"); }
    else if (ready && services.selected !== "terminal" && !services.loaded[services.selected]) { openService(services.selected); }
  }

  root.addEventListener("click", function (event) {
    var tab = event.target.closest(".kafaat-lab__tab");
    if (tab && root.contains(tab)) { selectTab(tab.getAttribute("data-tab")); return; }
    var button = event.target.closest(".kafaat-lab__service-reload, .kafaat-lab__service-window");
    if (button && root.contains(button)) {
      var id = button.closest(".kafaat-lab__service").getAttribute("data-panel");
      openService(id, button.classList.contains("kafaat-lab__service-window"));
    }
  });
  root.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest(".kafaat-lab__tab");
    if (!tab) { return; }
    var all = tabs().filter(function (node) { return !node.disabled; });
    var index = all.indexOf(tab);
    var forward = root.getAttribute("dir") === "rtl" ? "ArrowLeft" : "ArrowRight";
    var backward = forward === "ArrowLeft" ? "ArrowRight" : "ArrowLeft";
    var next = { Home: 0, End: all.length - 1 }[event.key];
    if (event.key === forward) { next = (index + 1) % all.length; }
    if (event.key === backward) { next = (index - 1 + all.length) % all.length; }
    if (next === undefined) { return; }
    event.preventDefault();
    selectTab(all[next].getAttribute("data-tab"), true);
  });

  /* ---------------------------------------------------------------- polling */

  function nextPollDelay() {
    state.polls += 1;
    if (state.polls <= QUICK_POLLS) { return FIRST_POLL_MS; }
    return Math.min(MAX_POLL_MS, FIRST_POLL_MS * Math.pow(2, state.polls - QUICK_POLLS));
  }

  function schedulePoll(delay) {
    if (state.poller) { clearTimeout(state.poller); }
    state.poller = setTimeout(function () {
      state.poller = null;
      /* a terminal waiting for its first token gets it in the same answer as "ready" */
      post("status", state.grant ? { terminal: true } : {}).then(render, function (error) { failed(error); schedulePoll(3000); });
    }, delay);
  }

  /* ---------------------------------------------------------------- actions */

  function busy(flag) { state.busy = flag; if (state.status) { renderSteps(state.status); } }

  function lifecycle(handler, question) {
    if (question && !window.confirm(question)) { return; }
    busy(true);
    state.polls = 0;
    /* a lab that is ready at once (a rejoin) brings its terminal token along */
    post(handler, handler === "stop" || !terminalWanted() ? {} : { terminal: true }).then(function (status) { busy(false); render(status); }, function (error) {
      busy(false);
      if (state.terminalFor === PENDING) { /* the terminal built for a Start that was refused */
        closeTerminal();
        show(q(".kafaat-lab__terminal-placeholder"), true);
      }
      failed(error);
    });
  }

  /* ---------------------------------------------------------------- check runs */

  /* The one place that follows a check run until it ends: it polls the cheap check_status handler.
   * A push channel can replace this function; its callers only see onUpdate(run) and onEnd(run). */
  function followRun(runId, onUpdate, onEnd) {
    var errors = 0;
    var polls = 0;
    var stopped = false;
    /* like the start: a few quick polls (a check is often over within ~100 ms), then backing off */
    function nextDelay(run) {
      polls += 1;
      if (polls <= QUICK_POLLS) { return FIRST_POLL_MS; }
      return Math.min(run.state === "queued" ? 1000 : 700, FIRST_POLL_MS * Math.pow(2, polls - QUICK_POLLS));
    }
    function poll(delay) {
      setTimeout(function () {
        if (stopped) { return; }
        post("check_status", { run_id: runId }).then(function (run) {
          errors = 0;
          if (run.finished) { stopped = true; onEnd(run); return; }
          onUpdate(run);
          poll(nextDelay(run));
        }, function (error) {
          errors += 1;
          if (error.status === 404 || errors >= 10) { stopped = true; onEnd({ finished: true, error: error }); return; }
          poll(Math.min(8000, 1000 * Math.pow(2, errors - 1)));
        });
      }, delay);
    }
    poll(FIRST_POLL_MS);
    return { stop: function () { stopped = true; } };
  }

  function runStepItem(stepId) { return q('.kafaat-lab__step[data-step="' + CSS.escape(stepId) + '"]'); }

  function runText(run) {
    if (run.state === "queued") { return _("Your checks are waiting for a free lab machine…"); }
    var total = run.checks_total || 1;
    return fmt(_("Running check %(current)s of %(total)s…"), { current: Math.min((run.checks_done || 0) + 1, total), total: total });
  }

  function sayRun(run) {
    say(runText(run));
    var item = runStepItem(run.step_id);
    var box = item && q(".kafaat-lab__run", item);
    if (!box) { return; }
    q(".kafaat-lab__run-text", box).textContent = runText(run);
    var bar = q(".kafaat-lab__run-bar", box);
    bar.max = run.checks_total || 1;
    if (run.state === "queued") { bar.removeAttribute("value"); } else { bar.value = run.checks_done || 0; }
    show(box, true);
  }

  function trackRun(run) {
    if (state.run && state.run.follower) { state.run.follower.stop(); }
    state.run = run;
    busy(true);
    if (run.finished) { endRun(run); return; }
    var item = runStepItem(run.step_id);
    if (item) { q(".kafaat-lab__results", item).textContent = ""; } /* the previous press's results are stale now */
    sayRun(run);
    run.follower = followRun(run.run_id, function (update) {
      update.follower = run.follower;
      state.run = update;
      sayRun(update);
    }, endRun);
  }

  function endRun(run) {
    var stepId = state.run ? state.run.step_id : run.step_id;
    state.run = null;
    var item = stepId && runStepItem(stepId);
    if (item) { show(q(".kafaat-lab__run", item), false); }
    busy(false);
    if (run.error) { failed(run.error); schedulePoll(0); return; }
    if (run.results) { showResults(run.step_id, run); }
    if (run.status) { render(run.status); }
    if (run.state === "timed_out") { say(run.message); }
    else if (run.state === "error") { say(run.message || _("Your checks could not run just now. Please try again in a moment.")); }
    else { say(run.passed ? _("All checks passed.") : _("Some checks did not pass yet.")); }
  }

  function showResults(step, result) {
    var item = q('.kafaat-lab__step[data-step="' + CSS.escape(step) + '"]');
    var list = q(".kafaat-lab__results", item);
    list.textContent = "";
    result.results.forEach(function (check) {
      var li = document.createElement("li");
      li.className = "kafaat-lab__result kafaat-lab__result--" + (check.passed ? "passed" : "failed");
      var head = document.createElement("strong");
      head.textContent = (check.passed ? _("Passed") : check.timed_out ? _("Timed out") : _("Not yet")) + " · " +
        fmt(_("%(points)s of %(max)s points"), { points: check.points, max: check.max_points });
      li.appendChild(head);
      if (check.feedback) {
        var out = document.createElement("pre");
        out.className = "kafaat-lab__feedback";
        out.dir = "auto"; /* a check's output: paths and English stay left to right in an Arabic page */
        out.textContent = check.feedback + (check.truncated ? "\n" + _("[output truncated]") : "");
        li.appendChild(out);
      }
      list.appendChild(li);
    });
    if (!result.graded) {
      var note = document.createElement("li");
      note.textContent = _("This step is ungraded because its solution was shown.");
      list.appendChild(note);
    }
  }

  root.addEventListener("click", function (event) {
    var target = event.target.closest("button, a.kafaat-lab__skip");
    if (!target || !root.contains(target)) { return; }
    if (target.classList.contains("kafaat-lab__skip")) {
      event.preventDefault();
      var section = q(target.getAttribute("data-target") === "terminal" ? ".kafaat-lab__terminal" : ".kafaat-lab__instructions");
      var focusable = section.querySelector("textarea, .xterm-helper-textarea") || section;
      focusable.focus();
    } else if (target.classList.contains("kafaat-lab__keepalive")) {
      post("keepalive").then(render, failed);
    } else if (target.classList.contains("kafaat-lab__start")) {
      say(PHASE_TEXT.queued);
      lifecycle("start");
      prepareTerminal();
    } else if (target.classList.contains("kafaat-lab__reset")) {
      lifecycle("reset", _("Reset the lab? Your environment is thrown away and a fresh one starts. Points you earned are kept."));
    } else if (target.classList.contains("kafaat-lab__stop")) {
      lifecycle("stop", _("Stop the lab? Your environment and any unsaved work in it are deleted."));
    } else if (target.classList.contains("kafaat-lab__check")) {
      busy(true);
      say(_("Checking…"));
      post("check", { step: target.getAttribute("data-step") }).then(trackRun, function (error) {
        busy(false);
        failed(error);
        /* refused because a run is active (another tab): the status names it, and we follow it */
        if (error.status === 409) { schedulePoll(1500); }
      });
    } else if (target.classList.contains("kafaat-lab__hint")) {
      post("hint", { step: target.getAttribute("data-step") }).then(function (reveal) { render(reveal.status); }, failed);
    } else if (target.classList.contains("kafaat-lab__solution")) {
      var shown = stepStatus(target.getAttribute("data-step"));
      var question = shown && shown.passed ? _("You passed this step: showing its solution keeps your points. Show it?")
        : _("Showing the solution makes this step ungraded: it will earn no points. Show it?");
      if (!window.confirm(question)) { return; }
      post("solution", { step: target.getAttribute("data-step") }).then(function (reveal) { render(reveal.status); }, failed);
    }
  });

  root.addEventListener("submit", function (event) {
    var form = event.target.closest(".kafaat-lab__flag");
    if (!form) { return; }
    event.preventDefault();
    var step = form.getAttribute("data-step");
    post("submit_flag", { step: step, flag: form.getAttribute("data-flag"), answer: q(".kafaat-lab__flag-input", form).value })
      .then(function (result) { showResults(step, result); render(result.status); }, function (error) {
        failed(error);
        if (error.status === 409) { schedulePoll(1500); }
      });
  });

  /* ---------------------------------------------------------------- staff */

  var staff = q(".kafaat-lab__staff");
  var viewer = null;
  var STATE_TEXT = {
    requested: _("Waiting for a lab machine"),
    provisioning: _("Starting"),
    ready: _("Running"),
    stopping: _("Stopping"),
    stopped: _("Stopped"),
    failed: _("Could not start")
  };
  /* the step's title as this page shows it (the id only if the lab has changed since) */
  function stepTitle(id) {
    var name = q('.kafaat-lab__step[data-step="' + CSS.escape(id) + '"] .kafaat-lab__step-name');
    return name ? name.textContent : id;
  }
  function staffSay(text) { q(".kafaat-lab__staff-status").textContent = text || ""; }
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function staffButton(td, label, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "kafaat-lab__button kafaat-lab__button--small";
    b.textContent = label;
    b.addEventListener("click", action);
    td.appendChild(b);
  }
  function closeViewer() {
    if (viewer) { try { viewer.close(); } catch { /* closed */ } viewer = null; }
    q(".kafaat-lab__staff-screen").textContent = "";
    show(q(".kafaat-lab__staff-viewer"), false);
  }
  function openViewer(title) {
    closeViewer();
    q(".kafaat-lab__staff-viewer-title").textContent = title;
    show(q(".kafaat-lab__staff-viewer"), true);
    return q(".kafaat-lab__staff-screen");
  }
  function staffAct(handler, data, done) {
    /* the table reloads, but the status line keeps saying what was done (it is read out, too) */
    post(handler, data).then(function () { staffSay(done); loadStaff(done); }, function (error) { staffSay(error.message); });
  }
  function loadStaff(message) {
    post("staff_sessions").then(function (body) {
      var tbody = q(".kafaat-lab__staff-rows");
      tbody.textContent = "";
      if (!body.sessions.length) { staffSay(message || _("No learner has started this lab yet.")); return; }
      staffSay(message ||
        fmt(i18n.ngettext("%(count)s learner", "%(count)s learners", body.sessions.length), { count: body.sessions.length }));
      body.sessions.forEach(function (s) {
        var tr = document.createElement("tr");
        cell(tr, s.username);
        cell(tr, (STATE_TEXT[s.state] || s.state) + (s.learner_message ? " — " + s.learner_message : ""));
        cell(tr, s.current_step ? stepTitle(s.current_step) : _("All steps passed"));
        cell(tr, s.last_check_at ? (s.last_check_passed ? _("passed") : _("failed")) + " · " + new Date(s.last_check_at).toLocaleString() : "—");
        cell(tr, String(s.attempts));
        cell(tr, formatClock(s.seconds_used));
        cell(tr, s.score + " / " + s.max_score);
        var actions = cell(tr, "");
        var who = { name: s.username };
        if (s.state === "ready") {
          staffButton(actions, fmt(_("Watch %(name)s's terminal"), who), function () {
            var screen = openViewer(fmt(_("Watching %(name)s (read-only)"), who));
            viewer = window.KafaatTerminal ? window.KafaatTerminal.open(screen, {
              /* a lab of several machines: the machine whose tab is selected above */
              fetchToken: function () {
                return post("staff_terminal_token", state.machine ? { session_id: s.session_id, machine: state.machine } : { session_id: s.session_id });
              },
              readOnly: true, i18n: i18n
            }) : null;
            if (!viewer) { screen.textContent = _("The terminal is not available on this site."); }
          });
          tabs().forEach(function (tab) { /* each service, read-only in a new window */
            var id = tab.getAttribute("data-tab");
            if (id === "terminal") { return; }
            staffButton(actions, fmt(_("View %(name)s's %(service)s (read-only)"), { name: s.username, service: tab.textContent }), function () {
              post("staff_service_token", { session_id: s.session_id, service: id }).then(function (grant) {
                postToService(grant, "_blank");
              }, function (error) { staffSay(error.message); });
            });
          });
          staffButton(actions, fmt(_("Extend %(name)s's lab"), who), function () {
            staffAct("staff_extend", { session_id: s.session_id, seconds: args.extendSeconds }, _("Time extended."));
          });
        }
        staffButton(actions, fmt(_("Replay %(name)s's terminal"), who), function () {
          /* a lab of several machines: the recording of the machine whose tab is selected above */
          post("staff_transcript", state.machine ? { session_id: s.session_id, machine: state.machine } : { session_id: s.session_id }).then(function (body) {
            var screen = openViewer(fmt(_("Replay of %(name)s's terminal"), who));
            if (!body.cast) { screen.textContent = _("No terminal recording for this lab."); return; }
            viewer = window.KafaatTerminal ? window.KafaatTerminal.replay(screen, body.cast, { i18n: i18n }) : null;
          }, function (error) { staffSay(error.message); });
        });
        if (LIVE[s.state]) {
          staffButton(actions, fmt(_("Reset %(name)s's lab"), who), function () {
            if (window.confirm(_("Give this learner a fresh environment? Their points are kept."))) {
              staffAct("staff_reset", { session_id: s.session_id }, _("Lab reset."));
            }
          });
          staffButton(actions, fmt(_("Stop %(name)s's lab"), who), function () {
            if (window.confirm(_("Stop this learner's lab?"))) { staffAct("staff_stop", { session_id: s.session_id }, _("Lab stopped.")); }
          });
        }
        tbody.appendChild(tr);
      });
    }, function (error) { staffSay(error.message); });
  }
  if (staff && args.isStaff) {
    q(".kafaat-lab__staff-refresh").addEventListener("click", function () { loadStaff(); });
    q(".kafaat-lab__staff-close").addEventListener("click", closeViewer);
    loadStaff();
  }

  state.timer = setInterval(renderCountdown, 1000);
  render(state.status || { state: "", steps: [], score: 0, max_score: 0 });
  buildAheadWhenIdle();
}
