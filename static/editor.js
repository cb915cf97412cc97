// The DAG file editor page (templates/hopsworks/editor.html): CodeMirror over the form's textarea.
// Without JavaScript (or if the bundle failed to load) the plain textarea still edits and saves.
(function () {
  "use strict";
  var source = document.getElementById("hw-editor-source");
  if (!source || !window.HopsworksCodeMirror) return;
  var view = window.HopsworksCodeMirror.createEditor(source, {readOnly: source.hasAttribute("data-readonly")});
  var line = parseInt(source.getAttribute("data-error-line") || "", 10);
  if (line > 0) {
    window.HopsworksCodeMirror.showError(view, line, source.getAttribute("data-error-message") || "Syntax error");
  }
  source.form.addEventListener("submit", function () {
    source.value = view.state.doc.toString();
  });
  window.hwEditorView = view; // for tests and the browser console
})();
