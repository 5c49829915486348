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

  // Countdowns: <time data-countdown="ISO" data-now="server ISO"> (server clock, not the client's).
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(ms) {
    if (ms <= 0) { return "now"; }
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  function tick() {
    var nodes = document.querySelectorAll("[data-countdown]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (!el.dataset.offset) {
        el.dataset.offset = String(Date.parse(el.dataset.now) - Date.now());
        el.title = el.textContent;
      }
      var left = Date.parse(el.dataset.countdown) - (Date.now() + Number(el.dataset.offset));
      el.textContent = "in " + fmt(left);
    }
  }
  tick();
  setInterval(tick, 1000);

  // Live regions: poll data-live with If-None-Match; replace the content when it changed.
  function live(el, every) {
    var etag = el.getAttribute("data-etag") || "";
    function poll() {
      if (document.hidden) { return; }
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(el.getAttribute("data-live"), { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          if (r.status !== 200) { return null; }
          etag = r.headers.get("ETag") || "";
          return r.text();
        })
        .then(function (html) { if (html !== null) { el.innerHTML = html; tick(); } })
        .catch(function () { /* the next poll retries */ });
    }
    setInterval(poll, every);
  }
  var nodes = document.querySelectorAll("[data-live]");
  for (var i = 0; i < nodes.length; i++) { live(nodes[i], 2000); }
})();
