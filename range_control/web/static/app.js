// Range Control pages: the only script (no inline script; the CSP allows 'self' only).
// Everything works without it; it adds live updates, countdowns and confirmations.
"use strict";

(function () {
  // Confirm before submitting forms or pressing buttons that carry data-confirm.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var btn = ev.submitter;
    var msg = (btn && btn.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  }, true);

  // Words in the page's language, from the <html> element's data-t-* (set by the server).
  var root = document.documentElement;
  function t(key, time) { return (root.getAttribute("data-t-" + key) || "{time}").replace("{time}", time); }

  // Countdowns: <time data-countdown="ISO"> with the server's time in data-now (server clock).
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(ms) {
    if (ms <= 0) { return t("now", ""); }
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  function tick() {
    var nodes = document.querySelectorAll("[data-countdown]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (!el.dataset.offset) {
        // The server's time: on the element, or on the live region around it (refreshed
        // from each poll's Date header); the client's clock may be off.
        var holder = el.dataset.now ? el : el.closest("[data-now]");
        var now = holder ? Date.parse(holder.dataset.now) : Date.now();
        el.dataset.offset = String(now - Date.now());
        if (!el.title) { el.title = el.textContent; }
      }
      var left = Date.parse(el.dataset.countdown) - (Date.now() + Number(el.dataset.offset));
      el.textContent = left <= 0 ? fmt(left) : t("in", fmt(left));
    }
  }
  tick();
  setInterval(tick, 1000);

  // Times are written in UTC (the range's clock); beside each, the reader's own local time
  // when it differs from UTC: <span data-local="ISO">.
  function localTimes(scope) {
    var nodes = scope.querySelectorAll("[data-local]");
    for (var i = 0; i < nodes.length; i++) {
      var d = new Date(nodes[i].getAttribute("data-local"));
      if (isNaN(d.getTime()) || d.getTimezoneOffset() === 0) { continue; }
      var shown = d.toLocaleTimeString(root.lang || undefined, { hour: "2-digit", minute: "2-digit" });
      nodes[i].textContent = " (" + t("local", shown) + ")";
    }
  }
  localTimes(document);

  // Live regions: poll data-live with If-None-Match; replace the content when it changed.
  function live(el, every) {
    var etag = el.getAttribute("data-etag") || "";
    function poll() {
      if (document.hidden) { return; }
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(el.getAttribute("data-live"), { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          var date = r.headers.get("Date");
          if (date) { // the server's clock for the countdowns inside
            el.setAttribute("data-now", new Date(date).toISOString());
            var t = el.querySelectorAll("[data-countdown]");
            for (var j = 0; j < t.length; j++) { delete t[j].dataset.offset; }
          }
          if (r.status !== 200) { return null; }
          etag = r.headers.get("ETag") || "";
          return r.text();
        })
        .then(function (html) { if (html !== null) { el.innerHTML = html; tick(); localTimes(el); } })
        .catch(function () { /* the next poll retries */ });
    }
    poll();
    setInterval(poll, every);
  }
  var nodes = document.querySelectorAll("[data-live]");
  for (var i = 0; i < nodes.length; i++) { live(nodes[i], 2000); }
})();
