/* Kafaat certification block: the staff roster (fetched from a JSON handler) and the Studio settings form. */
function KafaatCertificationBlock(runtime, element, args) {
  "use strict";
  var root = element.jquery ? element[0] : element;
  var i18n = KafaatI18n(args.i18n);
  /* The handler's JSON answer; an answer that is not JSON counts as an error. */
  function post(handler, data) {
    return KafaatHttp.postJSON(runtime.handlerUrl(element, handler), data).then(function (reply) {
      return reply.body || {error: "unreadable answer"};
    });
  }

  Array.prototype.forEach.call(root.querySelectorAll(".kafaat-cert__consents"), function (fieldset) {
    var status = fieldset.querySelector(".kafaat-cert__consent-status");
    Array.prototype.forEach.call(fieldset.querySelectorAll(".kafaat-cert__consent-box"), function (box) {
      box.addEventListener("change", function () {
        post("set_consent", {enrollment: fieldset.getAttribute("data-enrollment"), employer: box.value,
                             granted: box.checked}).then(function (data) {
          if (data.error) {
            box.checked = !box.checked;
            status.textContent = i18n.gettext("Your choice could not be saved.");
          } else {
            status.textContent = data.granted ? i18n.gettext("Your records will be shared.") :
              i18n.gettext("Your records will no longer be shared.");
          }
        }).catch(function () {
          box.checked = !box.checked;
          status.textContent = i18n.gettext("Your choice could not be saved.");
        });
      });
    });
  });

  var staff = root.querySelector(".kafaat-cert__staff");
  if (!staff) { return; }
  var form = staff.querySelector(".kafaat-cert__filters");
  var cohort = staff.querySelector(".kafaat-cert__cohort-select");
  var search = staff.querySelector(".kafaat-cert__search");
  var state = staff.querySelector(".kafaat-cert__state");
  var csv = staff.querySelector(".kafaat-cert__csv");
  var status = staff.querySelector(".kafaat-cert__status");
  var table = staff.querySelector(".kafaat-cert__roster");
  var csvBase = staff.getAttribute("data-csv-url");

  function statusLabel(status) {
    var labels = {
      active: i18n.gettext("active"),
      suspended: i18n.gettext("suspended"),
      revoked: i18n.gettext("revoked"),
      expired: i18n.gettext("expired")
    };
    return labels[status] || status;
  }

  function cell(row, text, header) {
    var node = document.createElement(header ? "th" : "td");
    node.textContent = text;
    row.appendChild(node);
    return node;
  }

  function query() {
    return "cohort=" + encodeURIComponent(cohort.value) + "&search=" + encodeURIComponent(search.value) +
      "&state=" + encodeURIComponent(state.value);
  }

  function render(rows) {
    table.textContent = "";
    if (!rows.length) { return; }
    var head = document.createElement("tr");
    [i18n.gettext("Learner"), i18n.gettext("Employee ID"), i18n.gettext("Progress"), i18n.gettext("Certificate")]
      .forEach(function (title) { cell(head, title, true); });
    rows[0].requirements.forEach(function (req) { cell(head, req.title, true); });
    table.appendChild(head);
    rows.forEach(function (data) {
      var row = document.createElement("tr");
      cell(row, data.full_name + " (" + data.username + ")");
      cell(row, data.employee_id);
      cell(row, data.progress + "%");
      cell(row, data.certificate ? data.certificate + " · " + statusLabel(data.status) : (data.met ? i18n.gettext("Requirements met") : ""));
      data.requirements.forEach(function (req) {
        var td = cell(row, req.current + " / " + req.required);
        if (req.met) { td.className = "kafaat-cert__cell--met"; } else if (req.missing) { td.title = req.missing; }
      });
      table.appendChild(row);
    });
  }

  function load(event) {
    if (event) { event.preventDefault(); }
    csv.href = csvBase + (csvBase.indexOf("?") === -1 ? "?" : "&") + query();
    status.textContent = i18n.gettext("Loading the roster…");
    post("roster", {cohort: cohort.value, search: search.value, state: state.value}).then(function (data) {
      if (data.error) {
        status.textContent = i18n.gettext("You cannot see this cohort.");
        table.textContent = "";
        return;
      }
      render(data.rows);
      status.textContent = i18n.interpolate(
        i18n.ngettext("%(count)s learner", "%(count)s learners", data.rows.length), {count: data.rows.length});
    }).catch(function () {
      status.textContent = i18n.gettext("The roster could not be loaded. Try again.");
    });
  }

  form.addEventListener("submit", load);
  cohort.addEventListener("change", load);
  state.addEventListener("change", load);
  load();
}

function KafaatCertificationStudio(runtime, element, args) {
  "use strict";
  var root = element.jquery ? element[0] : element;
  var i18n = KafaatI18n(args.i18n);
  var form = root.querySelector(".kafaat-cert-studio__form");
  var status = root.querySelector(".kafaat-cert-studio__status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    KafaatHttp.postJSON(runtime.handlerUrl(element, "save_settings"), {
      display_name: root.querySelector(".kafaat-cert-studio__name").value,
      track_slug: root.querySelector(".kafaat-cert-studio__track").value
    }).then(function (reply) {
      var data = reply.body || {error: "unreadable answer"};
      status.textContent = data.error ? i18n.gettext("Could not save the settings.") : i18n.gettext("Saved.");
      if (!data.error && runtime.notify) { runtime.notify("save", {state: "end"}); }
    });
  });
}
