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
