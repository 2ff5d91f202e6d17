/* Kafaat lab Studio editor: validate the OLX (errors with line numbers), preview the steps, save only when valid. */
function KafaatLabStudio(runtime, element, args) {
  "use strict";
  if (element && element.jquery) { element = element[0]; }
  var root = element.querySelector(".kafaat-lab--studio");
  var i18n = KafaatI18n(args.i18n);
  var _ = function (text) { return i18n.gettext(text); };
  var editor = root.querySelector(".kafaat-lab__editor");
  var statusNode = root.querySelector(".kafaat-lab__status");
  var errors = root.querySelector(".kafaat-lab__errors");
  var preview = root.querySelector(".kafaat-lab__preview");

  function post(handler, data) {
    return KafaatHttp.postJSON(runtime.handlerUrl(element, handler), data).then(function (reply) {
      if (!reply.ok || reply.body === null) {
        throw new Error((reply.body && reply.body.error) || _("Something went wrong. Please try again."));
      }
      return reply.body;
    });
  }
  function show(result) {
    errors.textContent = "";
    preview.innerHTML = result.valid ? result.preview : ""; /* rendered server-side, Markdown sanitised by nh3 */
    (result.errors || []).forEach(function (problem) {
      var li = document.createElement("li");
      li.textContent = problem.line ? i18n.interpolate(_("Line %(line)s: %(message)s"), problem) : problem.message;
      errors.appendChild(li);
    });
    (result.warnings || []).forEach(function (problem) {
      var li = document.createElement("li");
      li.className = "kafaat-lab__warning-item";
      li.textContent = problem.line
        ? i18n.interpolate(_("Line %(line)s (warning): %(message)s"), problem)
        : i18n.interpolate(_("Warning: %(message)s"), problem);
      errors.appendChild(li);
    });
  }
  function run(handler) {
    statusNode.textContent = _("Validating…");
    post(handler, { olx: editor.value }).then(function (result) {
      show(result);
      if (!result.valid) { statusNode.textContent = _("The lab has errors; nothing was saved."); return; }
      statusNode.textContent = result.saved ? _("Saved.") : _("The lab is valid.");
      if (result.saved && runtime.notify) { runtime.notify("save", { state: "end" }); }
    }, function (error) { statusNode.textContent = error.message; });
  }
  root.querySelector(".kafaat-lab__validate").addEventListener("click", function () { run("studio_validate"); });
  root.querySelector(".kafaat-lab__save").addEventListener("click", function () {
    if (runtime.notify) { runtime.notify("save", { state: "start" }); }
    run("studio_submit");
  });
  root.querySelector(".kafaat-lab__cancel").addEventListener("click", function () { if (runtime.notify) { runtime.notify("cancel", {}); } });
}
