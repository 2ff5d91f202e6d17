/* Kafaat JS translations: one small helper shared by every block's initialiser.
 * Each block's init args carry {catalog, plural} from xblocks.core.i18n.js_catalog(language). */
(function (global) {
  "use strict";
  function KafaatI18n(data) {
    var catalog = (data && data.catalog) || {};
    var pluralExpr = (data && data.plural) || "n != 1";
    var pluralFn;
    try {
      /* The plural expression comes from our own compiled catalog, never from page content. */
      pluralFn = new Function("n", "return +(" + pluralExpr + ");");
    } catch {
      pluralFn = function (n) { return n === 1 ? 0 : 1; };
    }
    function gettext(msgid) {
      var value = catalog[msgid];
      if (typeof value === "string" && value) { return value; }
      if (Array.isArray(value) && value[0]) { return value[0]; }
      return msgid;
    }
    function ngettext(singular, plural, n) {
      var forms = catalog[singular];
      if (Array.isArray(forms)) {
        var form = forms[pluralFn(n)];
        if (form) { return form; }
      }
      return n === 1 ? singular : plural;
    }
    function interpolate(fmt, values) {
      return String(fmt).replace(/%\(([a-zA-Z0-9_]+)\)s/g, function (match, key) {
        return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
      });
    }
    return { gettext: gettext, ngettext: ngettext, interpolate: interpolate };
  }
  global.KafaatI18n = KafaatI18n;
})(window);
