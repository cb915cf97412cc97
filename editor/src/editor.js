// Entry of static/vendor/codemirror.bundle.js (built by scripts/build-editor.sh; do not edit the bundle).
// Exposes window.HopsworksCodeMirror = {createEditor, showError, clearError}; static/editor.js uses it.
import {EditorView, basicSetup} from "codemirror";
import {EditorState} from "@codemirror/state";
import {keymap} from "@codemirror/view";
import {indentWithTab} from "@codemirror/commands";
import {python} from "@codemirror/lang-python";
import {setDiagnostics, lintGutter} from "@codemirror/lint";

// Turn a <textarea> into a Python editor; the textarea stays in the form (hidden) and receives the
// editor's text whenever it changes, so a plain form POST carries what the user sees.
export function createEditor(textarea, {readOnly = false} = {}) {
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        python(),
        lintGutter(),
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
        EditorView.contentAttributes.of({"aria-label": textarea.getAttribute("aria-label") || "DAG file"}),
      ],
    }),
  });
  textarea.parentNode.insertBefore(view.dom, textarea);
  textarea.hidden = true;
  return view;
}

// Mark line `line` (1-based) with `message` and put the cursor there.
export function showError(view, line, message) {
  const doc = view.state.doc;
  const at = doc.line(Math.min(Math.max(1, line), doc.lines));
  view.dispatch(setDiagnostics(view.state, [{from: at.from, to: at.to, severity: "error", message}]));
  view.dispatch({selection: {anchor: at.from}, scrollIntoView: true});
}

export function clearError(view) {
  view.dispatch(setDiagnostics(view.state, []));
}
