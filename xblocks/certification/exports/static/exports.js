/* Kafaat staff exports page: start an export without leaving the page and follow its progress. */
function KafaatExports(root, args) {
  "use strict";
  var i18n = KafaatI18n(args.i18n);
  var form = root.querySelector(".kafaat-exports__form");
  var status = root.querySelector(".kafaat-exports__status");
  var list = root.querySelector(".kafaat-exports__list");

  function say(text) { status.textContent = text; }

  function render(item, data) {
    item.dataset.state = data.status;
    item.querySelector(".kafaat-exports__progress").value = data.percent;
    item.querySelector(".kafaat-exports__progress").textContent = data.percent + "%";
    item.querySelector(".kafaat-exports__rows").textContent = i18n.interpolate(
      i18n.ngettext("%(done)s of %(total)s record", "%(done)s of %(total)s records", data.rows_total), {done: data.rows_done, total: data.rows_total});
    if (data.download_url && !item.querySelector(".kafaat-exports__download")) {
      var link = document.createElement("a");
      link.className = "kafaat-exports__download";
      link.href = data.download_url;
      link.textContent = i18n.gettext("Download");
      item.appendChild(link);
    }
  }

  function follow(item) {
    var url = item.dataset.statusUrl;
    function poll() {
      fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (data) {
        render(item, data);
        if (data.status === "done") {
          say(i18n.gettext("Your export is ready to download."));
        } else if (data.status === "failed") {
          say(i18n.gettext("The export failed. Try again or ask your administrator."));
        } else {
          window.setTimeout(poll, 1000);
        }
      }).catch(function () { say(i18n.gettext("Could not read the export's progress.")); });
    }
    poll();
  }

  function newItem(data) {
    var item = document.createElement("li");
    item.className = "kafaat-exports__item";
    item.dataset.statusUrl = data.status_url;
    var name = document.createElement("span");
    name.className = "kafaat-exports__name";
    name.textContent = data.format + " · " + data.preset + " · " + data.employer;
    var bar = document.createElement("progress");
    bar.className = "kafaat-exports__progress";
    bar.max = 100;
    var rows = document.createElement("span");
    rows.className = "kafaat-exports__rows";
    item.appendChild(name); item.appendChild(bar); item.appendChild(rows);
    var empty = list.querySelector(".kafaat-exports__item--empty");
    if (empty) { empty.remove(); }
    list.insertBefore(item, list.firstChild);
    render(item, data);
    return item;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say(i18n.gettext("Starting the export…"));
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (result) {
        if (!result.ok) { say(result.data.error || i18n.gettext("The export could not start.")); return; }
        say(i18n.gettext("Export started."));
        follow(newItem(result.data));
      }).catch(function () { say(i18n.gettext("The export could not start.")); });
  });

  Array.prototype.forEach.call(root.querySelectorAll(".kafaat-exports__item[data-status-url]"), function (item) {
    if (item.dataset.state === "pending" || item.dataset.state === "running") { follow(item); }
  });
}
