/* Kafaat HTTP helper: the CSRF cookie and one JSON POST, shared by every block's initialiser.
 * Added to each fragment beside kafaat-i18n.js (xblocks.core.resources.add_http_js). */
(function (global) {
  "use strict";
  /* Django's CSRF token, from its cookie ("" when there is none). */
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  /* POST data as JSON to url with the CSRF token. Resolves with {ok, status, body}: body is the parsed
   * JSON answer, or null when the answer is not JSON. Rejects only when the request could not be made. */
  function postJSON(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(data || {})
    }).then(function (response) {
      return response.text().then(function (text) {
        var body;
        try { body = text ? JSON.parse(text) : {}; } catch { body = null; }
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }
  global.KafaatHttp = { csrfToken: csrfToken, postJSON: postJSON };
})(window);
