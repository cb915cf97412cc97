/* Links that leave the plugin page, made to work inside Airflow 3's UI.
 *
 * Airflow 3.1+ shows plugin pages (external_views) in an iframe sandboxed with
 * "allow-scripts allow-same-origin allow-forms allow-downloads": no allow-top-navigation and no
 * allow-popups, so a target="_top" link (Airflow's own DAG pages) and a target="_blank" link
 * (Hopsworks) are blocked by the browser. allow-same-origin + allow-scripts let this page reach
 * its parent (Airflow's own page, same origin): the click is replayed on a link created in the
 * parent document, whose navigation is the parent's own (not sandboxed); the user's click
 * activation reaches the parent, so the new tab is not a blocked popup. Opened on its own (no
 * parent) a page keeps the browser's default behaviour. Downloads stay in the frame (allowed).
 */
(function () {
  "use strict";
  var embedded = window.self !== window.top;

  function parentDocument() {
    try {
      return window.parent.document;  // same origin: allowed by allow-same-origin
    } catch (e) {
      return null;
    }
  }

  document.addEventListener("click", function (event) {
    if (!embedded || event.defaultPrevented || event.button !== 0) return;
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link) return;
    var target = (link.getAttribute("target") || "").toLowerCase();
    if (target !== "_top" && target !== "_blank" && target !== "_parent") return;
    var doc = parentDocument();
    if (!doc) return;
    event.preventDefault();
    var proxy = doc.createElement("a");
    proxy.href = link.href;  // absolute
    if (target === "_blank") {
      proxy.target = "_blank";
      proxy.rel = "noopener";
    }
    proxy.style.display = "none";
    doc.body.appendChild(proxy);
    proxy.click();
    proxy.remove();
  });
})();

/* Forms with data-hw-confirm (Stop an execution) ask before they are sent. */
document.addEventListener("submit", function (event) {
  "use strict";
  var question = event.target.getAttribute && event.target.getAttribute("data-hw-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

/* Live pages: a table with data-hw-live="<JSON URL>" polls that URL every few seconds while anything
 * on it is not final, and updates its rows in place (no reload). The JSON is
 *   {"final": bool, "items": [{"key", "final", "state", "final_status", "badge", "elapsed", "html"}]}
 * and a row is the element with data-live-key="<key>"; inside it, [data-live=state] .hw-badge gets
 * the state and colour, [data-live=final-status] / [data-live=elapsed] their text, [data-live=html]
 * the server-rendered HTML, and a final row's [data-live=action] becomes its "Logs" link
 * (data-logs-url). Polling stops once "final" is true, or after repeated failures. */
(function () {
  "use strict";
  var INTERVAL_MS = 2500, MAX_FAILURES = 5;

  function update(row, item) {
    var badge = row.querySelector("[data-live=state] .hw-badge");
    if (badge && item.state) {
      badge.textContent = item.state;
      badge.className = "hw-badge hw-badge-" + (item.badge || "none");
    }
    var fields = {"final-status": item.final_status, "elapsed": item.elapsed};
    Object.keys(fields).forEach(function (name) {
      var cell = row.querySelector("[data-live=" + name + "]");
      if (cell && fields[name] !== undefined) cell.textContent = fields[name] || "—";
    });
    var html = row.querySelector("[data-live=html]");
    if (html && typeof item.html === "string" && html.innerHTML !== item.html) html.innerHTML = item.html;
    var action = row.querySelector("[data-live=action]");
    if (action && item.final && row.getAttribute("data-logs-url")) {
      var link = document.createElement("a");
      link.className = "btn btn-default btn-xs";
      link.href = row.getAttribute("data-logs-url");
      link.textContent = "Logs";
      action.replaceChildren(link);
    }
  }

  function watch(table) {
    var url = table.getAttribute("data-hw-live"), failures = 0;
    function poll() {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) {
          failures = 0;
          (data.items || []).forEach(function (item) {
            var row = table.querySelector('[data-live-key="' + CSS.escape(String(item.key)) + '"]');
            if (row) update(row, item);
          });
          if (data.final) table.setAttribute("data-hw-live-done", "");
          else setTimeout(poll, INTERVAL_MS);
        })
        .catch(function () {
          failures += 1;
          if (failures < MAX_FAILURES) setTimeout(poll, INTERVAL_MS * failures);
        });
    }
    setTimeout(poll, INTERVAL_MS);
  }

  function start() {
    document.querySelectorAll("[data-hw-live]").forEach(watch);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
