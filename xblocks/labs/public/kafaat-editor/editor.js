/* The editor service's page script (served inline by the service proxy on the service's own origin).
 * Every file name is set with textContent; the server confines paths and sizes. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.body.getAttribute("data-editor"));
  var S = cfg.strings, current = null, dirty = false;
  var text = document.getElementById("text"), save = document.getElementById("save");
  var status = document.getElementById("status"), name = document.getElementById("name");
  function say(message) { status.textContent = message || ""; }
  function fail(reply) {
    return reply.json().then(function (body) { say(S[body.error] || S.failed); }, function () { say(S.failed); });
  }
  function call(method, path, body) {
    return fetch(cfg.api + path, { method: method, body: body, credentials: "same-origin",
      headers: { "X-Kafaat-Editor": "1", "Content-Type": "text/plain; charset=utf-8" } });
  }
  function open(path, button) {
    call("GET", "file?path=" + encodeURIComponent(path)).then(function (reply) {
      if (!reply.ok) { return fail(reply); }
      return reply.text().then(function (content) {
        current = path; dirty = false; name.textContent = path; text.value = content;
        text.disabled = false; text.readOnly = cfg.readOnly; save.disabled = true; say("");
        Array.prototype.forEach.call(document.querySelectorAll("#files button"), function (b) {
          b.removeAttribute("aria-current");
        });
        button.setAttribute("aria-current", "true");
      });
    }, function () { say(S.failed); });
  }
  function list() {
    call("GET", "files").then(function (reply) {
      if (!reply.ok) { return fail(reply); }
      return reply.json().then(function (entries) {
        var ul = document.getElementById("files");
        ul.textContent = "";
        entries.forEach(function (entry) {
          var li = document.createElement("li"), b = document.createElement("button");
          var depth = entry.path.split("/").length - 1;
          b.type = "button"; b.textContent = entry.path.split("/").pop() + (entry.dir ? "/" : "");
          b.title = entry.path; b.style.paddingInlineStart = (0.3 + depth) + "rem";
          if (entry.dir) {
            b.className = "dir";
            b.disabled = true;
          } else {
            b.addEventListener("click", function () { open(entry.path, b); });
          }
          li.appendChild(b); ul.appendChild(li);
        });
        if (!current) { say(S.choose); }
      });
    }, function () { say(S.failed); });
  }
  text.addEventListener("input", function () {
    if (!cfg.readOnly) { dirty = true; save.disabled = false; say(S.unsaved); }
  });
  text.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      if (!save.disabled) { save.click(); }
    }
  });
  save.addEventListener("click", function () {
    if (!current || cfg.readOnly) { return; }
    save.disabled = true;
    call("PUT", "file?path=" + encodeURIComponent(current), text.value).then(function (reply) {
      if (!reply.ok) { save.disabled = false; return fail(reply); }
      dirty = false; say(S.saved); list();
    }, function () { save.disabled = false; say(S.failed); });
  });
  window.addEventListener("beforeunload", function (event) { if (dirty) { event.preventDefault(); } });
  if (cfg.readOnly) { save.hidden = true; }
  list();
}());
