/* The DAG builder form (templates/hopsworks/builder.html): task rows, dependency pickers by name,
 * live checks as the user types (cron -> next runs, names, cycles), a small SVG graph, the code
 * preview. No framework; user text only ever goes through textContent/value, never innerHTML. */
(function () {
  "use strict";
  var form = document.getElementById("hw-builder");
  if (!form) { return; }
  var initial = JSON.parse(document.getElementById("hw-bd-data").textContent);
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var tasksBox = document.getElementById("hw-bd-tasks");
  var template = document.getElementById("hw-bd-task-template");
  var preset = document.getElementById("hw-bd-preset");
  var cron = document.getElementById("hw-bd-cron");
  var summary = document.querySelector("[data-testid=problems]");
  var runsBox = document.querySelector("[data-testid=schedule-preview]");
  var code = document.getElementById("hw-bd-code");
  var graph = document.getElementById("hw-bd-graph");
  var jobsList = document.getElementById("hw-bd-jobs");
  var SVG = "http://www.w3.org/2000/svg";
  var rows = [];  // {id, el, upstream: Set of row ids}
  var nextId = 1;
  var touched = {};
  var showAll = initial.problems.length > 0;
  var lastProblems = initial.problems;
  var checkTimer = null, checkSeq = 0;

  function bound(key) { return form.querySelector("[data-bind='" + key + "']"); }
  function field(row, key) { return row.el.querySelector("[data-task='" + key + "']"); }
  function rowName(row) { return field(row, "name").value.trim(); }

  // --- the spec <-> the form ---------------------------------------------------------------------

  function readSpec() {
    var retries = bound("retries").value.trim();
    return {
      dag_id: bound("dag_id").value.trim(),
      description: bound("description").value.trim(),
      tags: bound("tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean),
      schedule: preset.value === "cron" ? cron.value.trim() : preset.value,
      start_date: bound("start_date").value,
      catchup: bound("catchup").checked,
      retries: /^\d+$/.test(retries) ? parseInt(retries, 10) : (retries || 0),
      conn_id: bound("conn_id").value.trim(),
      tasks: rows.map(function (row) {
        var upstream = [];
        rows.forEach(function (other) { if (row.upstream.has(other.id)) { upstream.push(rowName(other)); } });
        return {
          name: rowName(row), kind: field(row, "kind").value, job: field(row, "job").value.trim(),
          arguments: field(row, "arguments").value, wait: field(row, "wait").value,
          condition: field(row, "condition").value, path: field(row, "path").value.trim(), upstream: upstream
        };
      })
    };
  }

  // A field the user typed into before this script ran (a slow page) keeps what they typed.
  function put(el, value) {
    if (el.type === "checkbox") {
      if (el.checked === el.defaultChecked) { el.checked = !!value; } else { touched[el.dataset.bind] = true; }
    } else if (el.value === el.defaultValue) {
      el.value = value;
    } else if (el.dataset.bind) {
      touched[el.dataset.bind] = true;
    }
  }

  function fill(spec) {
    put(bound("dag_id"), spec.dag_id || "");
    put(bound("description"), spec.description || "");
    put(bound("tags"), (spec.tags || []).join(", "));
    var presets = Array.prototype.map.call(preset.options, function (o) { return o.value; });
    if (presets.indexOf(spec.schedule || "") >= 0 && spec.schedule !== "cron") {
      preset.value = spec.schedule || "";
    } else {
      preset.value = "cron";
      put(cron, spec.schedule);
    }
    cron.hidden = preset.value !== "cron";
    put(bound("start_date"), spec.start_date || "");
    put(bound("catchup"), spec.catchup);
    put(bound("retries"), spec.retries);
    put(bound("conn_id"), spec.conn_id || "hopsworks_default");
    (spec.tasks || []).forEach(function (t) { addRow(t); });
    var byName = {};
    rows.forEach(function (row) { byName[rowName(row)] = row.id; });
    (spec.tasks || []).forEach(function (t, i) {
      (t.upstream || []).forEach(function (name) { if (byName[name]) { rows[i].upstream.add(byName[name]); } });
    });
  }

  // --- task rows ---------------------------------------------------------------------------------

  function showKind(row) {
    var kind = field(row, "kind").value;
    var show = {
      "hw-bd-for-job": kind === "run_job" || kind === "wait_job",
      "hw-bd-for-run": kind === "run_job",
      "hw-bd-for-sensor": kind === "wait_job",
      "hw-bd-for-path": kind === "wait_path"
    };
    Object.keys(show).forEach(function (cls) {
      row.el.querySelectorAll("." + cls).forEach(function (el) { el.hidden = !show[cls]; });
    });
  }

  function addRow(task) {
    var el = template.content.firstElementChild.cloneNode(true);
    var row = {id: nextId++, el: el, upstream: new Set()};
    rows.push(row);
    tasksBox.appendChild(el);
    var defaults = {name: "", kind: "run_job", job: "", arguments: "", wait: "worker", condition: "succeeded", path: ""};
    Object.keys(defaults).forEach(function (key) {
      field(row, key).value = task && task[key] !== undefined ? task[key] : defaults[key];
    });
    el.dataset.row = String(row.id);
    field(row, "kind").addEventListener("change", function () { showKind(row); });
    field(row, "job").addEventListener("input", function (e) { searchJobs(e.target.value); });
    field(row, "job").addEventListener("focus", function (e) { searchJobs(e.target.value); });
    el.querySelector("[data-action=remove]").addEventListener("click", function () {
      rows = rows.filter(function (r) { return r !== row; });
      rows.forEach(function (r) { r.upstream.delete(row.id); });
      el.remove();
      changed();
    });
    showKind(row);
    return row;
  }

  function renderRows() {
    rows.forEach(function (row, i) {
      row.el.querySelector(".hw-bd-task-number").textContent = String(i + 1);
      row.el.dataset.testname = rowName(row);
      var list = row.el.querySelector(".hw-bd-upstream-list");
      list.textContent = "";
      var others = rows.filter(function (other) { return other !== row; });
      if (!others.length) { list.textContent = "(add another task to choose)"; }
      others.forEach(function (other) {
        var label = document.createElement("label");
        label.className = "hw-bd-inline";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.value = String(other.id);
        box.checked = row.upstream.has(other.id);
        box.dataset.upstream = rowName(other);
        box.addEventListener("change", function () {
          if (box.checked) { row.upstream.add(other.id); } else { row.upstream.delete(other.id); }
          touched.graph = true;
          changed();
        });
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + (rowName(other) || "task " + (rows.indexOf(other) + 1))));
        list.appendChild(label);
      });
    });
  }

  // --- problems ----------------------------------------------------------------------------------

  function shown(fieldName) {
    if (showAll) { return true; }
    var key = fieldName.indexOf("task.") === 0 ? fieldName.split(".").slice(0, 2).join(".") : fieldName;
    return !!touched[key];
  }

  function showProblems(problems) {
    lastProblems = problems;
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    rows.forEach(function (row) { row.el.querySelector(".hw-bd-task-errors").textContent = ""; });
    var visible = problems.filter(function (p) { return shown(p.field); });
    visible.forEach(function (p) {
      var target = null;
      var m = /^task\.(\d+)\./.exec(p.field);
      if (m && rows[parseInt(m[1], 10) - 1]) {
        target = rows[parseInt(m[1], 10) - 1].el.querySelector(".hw-bd-task-errors");
      } else {
        target = form.querySelector("[data-error-for='" + p.field + "']");
      }
      if (target) {
        var line = document.createElement("div");
        line.textContent = p.message;
        target.appendChild(line);
      }
    });
    summary.textContent = "";
    summary.hidden = !(showAll && visible.length);
    if (showAll && visible.length) {
      var head = document.createElement("p");
      head.textContent = visible.length === 1 ? "Fix this before saving:" : "Fix these " + visible.length + " problems before saving:";
      var list = document.createElement("ul");
      visible.forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = p.message;
        list.appendChild(li);
      });
      summary.appendChild(head);
      summary.appendChild(list);
    }
  }

  function showRuns(schedule) {
    runsBox.textContent = "";
    if (!schedule || schedule.error) { return; }
    var p = document.createElement("div");
    p.textContent = schedule.summary;
    runsBox.appendChild(p);
    if (schedule.runs.length) {
      var head = document.createElement("div");
      head.textContent = "Next runs:";
      var list = document.createElement("ol");
      list.className = "hw-bd-run-list";
      schedule.runs.forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = r;
        list.appendChild(li);
      });
      runsBox.appendChild(head);
      runsBox.appendChild(list);
    }
  }

  // --- talking to the server ---------------------------------------------------------------------

  function post(body) {
    return fetch(form.dataset.checkUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) { json.httpStatus = response.status; return json; });
    });
  }

  function serverError(json) {
    summary.hidden = false;
    summary.textContent = json.message || "The check failed; reload the page and try again.";
  }

  function liveCheck() {
    var seq = ++checkSeq;
    post({spec: readSpec()}).then(function (json) {
      if (seq !== checkSeq) { return; }  // an older answer: a newer check is on its way
      if (json.httpStatus !== 200) { serverError(json); return; }
      showProblems(json.problems);
      showRuns(json.schedule);
    }).catch(function () { /* offline: the save checks everything again */ });
  }

  function changed() {
    renderRows();
    drawGraph();
    code.hidden = true;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(liveCheck, 250);
  }

  var jobTimer = null, jobSeq = 0;
  function searchJobs(text) {
    clearTimeout(jobTimer);
    jobTimer = setTimeout(function () {
      var seq = ++jobSeq;
      fetch(form.dataset.jobsUrl + "?q=" + encodeURIComponent(text.trim()), {
        credentials: "same-origin", headers: {"Accept": "application/json"}
      }).then(function (r) { return r.json(); }).then(function (json) {
        if (seq !== jobSeq || !json.jobs) { return; }
        jobsList.textContent = "";
        json.jobs.forEach(function (job) {
          var option = document.createElement("option");
          option.value = job.name;
          option.label = job.type ? job.name + " (" + job.type + ")" : job.name;
          jobsList.appendChild(option);
        });
      }).catch(function () { /* the picker stays as it was */ });
    }, 200);
  }

  // --- the graph ---------------------------------------------------------------------------------

  function drawGraph() {
    var depth = {};
    var byId = {};
    rows.forEach(function (row) { byId[row.id] = row; });
    function depthOf(row, path) {
      if (depth[row.id] !== undefined) { return depth[row.id]; }
      if (path.has(row.id)) { return 0; }  // a cycle: the form says so
      path.add(row.id);
      var d = 0;
      row.upstream.forEach(function (id) { if (byId[id]) { d = Math.max(d, depthOf(byId[id], path) + 1); } });
      path.delete(row.id);
      depth[row.id] = d;
      return d;
    }
    rows.forEach(function (row) { depthOf(row, new Set()); });
    var layers = [];
    rows.forEach(function (row) {
      var d = depth[row.id];
      (layers[d] = layers[d] || []).push(row);
    });
    var W = 150, H = 30, GX = 60, GY = 18, pos = {};
    layers.forEach(function (layer, x) {
      (layer || []).forEach(function (row, y) { pos[row.id] = {x: 10 + x * (W + GX), y: 10 + y * (H + GY)}; });
    });
    var height = 20 + Math.max(1, Math.max.apply(null, layers.map(function (l) { return (l || []).length; }).concat([1]))) * (H + GY);
    graph.textContent = "";
    graph.setAttribute("width", String(20 + Math.max(1, layers.length) * (W + GX)));
    graph.setAttribute("height", String(height));
    var defs = document.createElementNS(SVG, "defs");
    var marker = document.createElementNS(SVG, "marker");
    marker.setAttribute("id", "hw-bd-arrow");
    marker.setAttribute("viewBox", "0 0 10 10");
    marker.setAttribute("refX", "10");
    marker.setAttribute("refY", "5");
    marker.setAttribute("markerWidth", "7");
    marker.setAttribute("markerHeight", "7");
    marker.setAttribute("orient", "auto");
    var tip = document.createElementNS(SVG, "path");
    tip.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
    marker.appendChild(tip);
    defs.appendChild(marker);
    graph.appendChild(defs);
    rows.forEach(function (row) {
      row.upstream.forEach(function (id) {
        if (!pos[id]) { return; }
        var from = pos[id], to = pos[row.id];
        var line = document.createElementNS(SVG, "line");
        line.setAttribute("x1", String(from.x + W));
        line.setAttribute("y1", String(from.y + H / 2));
        line.setAttribute("x2", String(to.x));
        line.setAttribute("y2", String(to.y + H / 2));
        line.setAttribute("class", "hw-bd-edge" + (depth[id] >= depth[row.id] ? " hw-bd-edge-back" : ""));
        line.setAttribute("marker-end", "url(#hw-bd-arrow)");
        line.setAttribute("data-edge", rowName(byId[id]) + "->" + rowName(row));
        graph.appendChild(line);
      });
    });
    rows.forEach(function (row, i) {
      var p = pos[row.id];
      var g = document.createElementNS(SVG, "g");
      g.setAttribute("class", "hw-bd-node hw-bd-node-" + field(row, "kind").value);
      g.setAttribute("data-node", rowName(row));
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(p.x));
      rect.setAttribute("y", String(p.y));
      rect.setAttribute("width", String(W));
      rect.setAttribute("height", String(H));
      rect.setAttribute("rx", "5");
      var text = document.createElementNS(SVG, "text");
      text.setAttribute("x", String(p.x + 8));
      text.setAttribute("y", String(p.y + H / 2 + 4));
      var label = rowName(row) || "task " + (i + 1);
      text.textContent = label.length > 20 ? label.slice(0, 19) + "…" : label;
      var title = document.createElementNS(SVG, "title");
      title.textContent = label;
      g.appendChild(title);
      g.appendChild(rect);
      g.appendChild(text);
      graph.appendChild(g);
    });
  }

  // --- wiring ------------------------------------------------------------------------------------

  fill(initial.spec);
  if (!rows.length) { addRow(null); }
  form.addEventListener("input", function (e) {
    var t = e.target;
    if (t.dataset.bind) { touched[t.dataset.bind] = true; }
    if (t === cron) { touched.schedule = true; }
    var rowEl = t.closest(".hw-bd-task");
    if (rowEl) {
      var idx = rows.findIndex(function (r) { return r.el === rowEl; });
      touched["task." + (idx + 1)] = true;
    }
    changed();
  });
  form.addEventListener("change", function (e) {
    if (e.target === preset) {
      cron.hidden = preset.value !== "cron";
      touched.schedule = true;
      if (!cron.hidden) { cron.focus(); }
    }
    changed();
  });
  document.getElementById("hw-bd-add").addEventListener("click", function () {
    var row = addRow(null);
    changed();
    field(row, "name").focus();
  });
  document.getElementById("hw-bd-preview").addEventListener("click", function () {
    showAll = true;
    code.hidden = true;
    post({spec: readSpec(), full: true, name: form.dataset.name || null}).then(function (json) {
      if (json.httpStatus !== 200) { serverError(json); return; }
      showProblems(json.problems);
      showRuns(json.schedule);
      if (json.ok) {
        code.textContent = json.code;
        code.hidden = false;
      }
    }).catch(function () { serverError({}); });
  });
  form.addEventListener("submit", function () {
    document.getElementById("hw-bd-spec-field").value = JSON.stringify(readSpec());
  });
  renderRows();
  drawGraph();
  showProblems(lastProblems);
  liveCheck();
})();
