// Micro-grid planner: proposals, hand edits with undo/redo, live totals, validation, versions.
(function () {
  "use strict";
  const S = window.MS_STRINGS;
  const el = (id) => document.getElementById(id);
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"];
  const parentId = el("map").dataset.parent;
  const state = {
    data: null, assignment: {}, history: [], pointer: -1, selected: new Set(), base: null,
    lastSaved: null, buildings: new Map(), colours: new Map(), mode: null, names: {}, persons: {},
  };
  const map = L.map("map", { boxZoom: false });
  const svg = L.svg();
  const cellLayer = L.geoJSON(null, { renderer: svg, style: cellStyle }).addTo(map);
  const buildingLayer = L.geoJSON(null, {
    renderer: svg,
    style: buildingStyle,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5 }),
    onEachFeature: (f, layer) => {
      state.buildings.set(f.properties.id, layer);
      layer.on("click", (e) => {
        L.DomEvent.stopPropagation(e);
        toggle(f.properties.id);
      });
      layer.bindTooltip(() => `${escapeHtml(f.properties.name || f.properties.id)} · ${f.properties.households} ${S.households}`);
      layer.on("add", () => {
        const node = layer.getElement();
        if (node) { node.classList.add("pl-building"); node.dataset.id = f.properties.id; }
      });
    },
  }).addTo(map);

  const escapeHtml = window.MS.escapeHtml; // common.js
  function colourOf(cell) {
    if (!state.colours.has(cell)) state.colours.set(cell, palette[state.colours.size % palette.length]);
    return state.colours.get(cell);
  }
  function cellStyle(f) {
    return { color: "#222", weight: 2, fillColor: colourOf(f.properties.cell_id), fillOpacity: 0.18 };
  }
  function buildingStyle(f) {
    const id = f.properties.id;
    const selected = state.selected.has(id);
    return {
      color: selected ? "#000" : "#333",
      weight: selected ? 3 : 0.8,
      fillColor: colourOf(state.assignment[id]),
      fillOpacity: selected ? 1 : 0.85,
    };
  }
  async function call(url, body, method = "POST") {
    el("busy").hidden = false;
    document.body.classList.add("busy");
    try {
      return await window.MS.send(url, body, method);
    } finally {
      el("busy").hidden = true;
      document.body.classList.remove("busy");
    }
  }

  function target() {
    return { minimum: Number(el("target-min").value), maximum: Number(el("target-max").value), measure: el("target-measure").value };
  }
  function showError(err) {
    el("issues").innerHTML = `<p class="error" role="alert">${escapeHtml(err.status === 409 ? `${S.conflict}: ${err.message}` : err.message)}</p>`;
  }

  // -- totals, instantly on the client -----------------------------------------------
  function totals() {
    const out = new Map();
    for (const f of state.data.buildings.features) {
      const cell = state.assignment[f.properties.id];
      if (!cell) continue;
      const t = out.get(cell) || { households: 0, residents: 0, buildings: 0 };
      t.households += f.properties.households;
      t.residents += f.properties.residents;
      t.buildings += 1;
      out.set(cell, t);
    }
    return out;
  }
  function renderCells() {
    const goal = target();
    const sums = totals();
    const cells = [...sums.keys()].sort();
    const options = cells.map((c) => `<option value="${escapeHtml(c)}">${escapeHtml(state.names[c] || c)}</option>`).join("");
    el("cells").innerHTML =
      `<tr><th></th><th>${S.households}</th><th>${S.persons}</th><th></th><th></th></tr>` +
      cells
        .map((c) => {
          const t = sums.get(c);
          const value = goal.measure === "residents" ? t.residents : t.households;
          const ok = value >= goal.minimum && value <= goal.maximum;
          return `<tr data-cell="${escapeHtml(c)}" class="${ok ? "" : "out-of-target"}"><td><span class="swatch" style="background:${colourOf(c)}"></span>${escapeHtml(state.names[c] || c)}</td>` +
            `<td class="hh" data-households="${t.households}">${t.households}</td><td>${t.residents}</td>` +
            `<td><input class="person" data-cell="${escapeHtml(c)}" placeholder="${escapeHtml(S.person)}" value="${escapeHtml(state.persons[c] || "")}" size="6"></td>` +
            `<td><button class="move-here">${S.move_here}</button> <button class="split">${S.split}</button> ` +
            `<select class="merge"><option value="">${S.merge_into}</option>${options}</select></td></tr>`;
        })
        .join("");
    el("selected-count").textContent = String(state.selected.size);
    el("undo").disabled = state.pointer <= 0;
    el("redo").disabled = state.pointer >= state.history.length - 1;
  }
  function restyle() {
    buildingLayer.setStyle(buildingStyle);
    renderCells();
  }

  // -- edits with undo/redo; boundaries and issues from the server --------------------
  let evalTimer = null;
  function commit(assignment, { record = true, recompute = true } = {}) {
    state.assignment = assignment;
    if (record) {
      state.history = state.history.slice(0, state.pointer + 1);
      state.history.push({ ...assignment });
      state.pointer = state.history.length - 1;
    }
    restyle();
    clearTimeout(evalTimer);
    if (recompute) evalTimer = setTimeout(evaluate, 150);
  }
  async function evaluate() {
    try {
      const data = await call(`/api/planner/${encodeURIComponent(parentId)}/evaluate`, { assignment: state.assignment, target: target() });
      drawPolygons(data.polygons);
      showIssues(data.issues);
    } catch (err) {
      showError(err);
    }
  }
  function drawPolygons(collection) {
    cellLayer.clearLayers();
    cellLayer.addData(collection);
    cellLayer.bringToBack();
  }
  function showIssues(issues) {
    el("issues").innerHTML = issues.length
      ? `<ul class="issues-list">${issues.map((i) => `<li data-kind="${i.kind}">${escapeHtml(i.kind)} · ${escapeHtml(i.subject)}: ${escapeHtml(i.detail)}</li>`).join("")}</ul>`
      : `<p class="ok">${S.no_issues}</p>`;
  }
  async function serverEdit(op) {
    try {
      const data = await call(`/api/planner/${encodeURIComponent(parentId)}/edit`, { ...op, assignment: state.assignment, target: target() });
      state.assignment = data.assignment;
      state.history = state.history.slice(0, state.pointer + 1);
      state.history.push({ ...data.assignment });
      state.pointer = state.history.length - 1;
      drawPolygons(data.polygons);
      showIssues(data.issues);
      restyle();
    } catch (err) {
      showError(err);
    }
  }
  function toggle(id) {
    if (state.selected.has(id)) state.selected.delete(id);
    else state.selected.add(id);
    restyle();
  }
  el("cells").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-cell]");
    if (!row) return;
    const cell = row.dataset.cell;
    if (e.target.classList.contains("move-here") && state.selected.size) {
      const next = { ...state.assignment };
      for (const id of state.selected) next[id] = cell;
      state.selected.clear();
      commit(next);
    }
    if (e.target.classList.contains("split")) serverEdit({ op: "split", cell });
  });
  el("cells").addEventListener("input", (e) => {
    if (e.target.classList.contains("person")) state.persons[e.target.dataset.cell] = e.target.value;
  });
  el("assign-people").addEventListener("click", async () => {
    const lines = (id) => el(id).value.split(/\n/).map((x) => x.trim()).filter(Boolean);
    try {
      const data = await call(`/api/planner/${encodeURIComponent(parentId)}/people`, {
        assignment: state.assignment, people: lines("people"), volunteers: lines("volunteers"),
      });
      Object.assign(state.persons, Object.fromEntries(Object.entries(data.persons).filter(([, v]) => v)));
      renderCells();
      const groups = Object.entries(data.volunteers);
      if (groups.length) {
        const csv = "volunteer,household_id\n" + groups.flatMap(([v, hs]) => hs.map((h) => `${v},${h}`)).join("\n");
        const url = URL.createObjectURL(new Blob(["\ufeff" + csv], { type: "text/csv" }));
        el("volunteer-result").innerHTML = `<table class="legend">${groups.map(([v, hs]) => `<tr><td>${escapeHtml(v)}</td><td>${hs.length}</td></tr>`).join("")}</table>` +
          `<a href="${url}" download="volunteers-${escapeHtml(parentId)}.csv">${S.download_csv}</a>`;
      }
    } catch (err) {
      showError(err);
    }
  });
  el("cells").addEventListener("change", (e) => {
    if (!e.target.classList.contains("merge") || !e.target.value) return;
    const remove = e.target.closest("tr").dataset.cell;
    if (e.target.value !== remove) serverEdit({ op: "merge", keep: e.target.value, remove });
  });
  el("undo").addEventListener("click", () => {
    if (state.pointer > 0) { state.pointer -= 1; commit({ ...state.history[state.pointer] }, { record: false }); }
  });
  el("redo").addEventListener("click", () => {
    if (state.pointer < state.history.length - 1) { state.pointer += 1; commit({ ...state.history[state.pointer] }, { record: false }); }
  });
  for (const id of ["target-min", "target-max", "target-measure"]) el(id).addEventListener("change", () => commit(state.assignment, { record: false }));
  // Ctrl+Z / Ctrl+Y (and Ctrl+Shift+Z), as in every editor; not while typing in a field
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.target.closest("input, textarea, select")) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) el("undo").click();
    else if (key === "y" || (key === "z" && e.shiftKey)) el("redo").click();
    else return;
    e.preventDefault();
  });

  // -- box select and hand-drawn boundary -----------------------------------------------
  function setMode(mode) {
    state.mode = state.mode === mode ? null : mode;
    el("box").setAttribute("aria-pressed", String(state.mode === "box"));
    el("draw").setAttribute("aria-pressed", String(state.mode === "draw"));
    if (state.mode) map.dragging.disable(); else map.dragging.enable();
    // a hint says what the mode does and how to leave it
    const hint = el("mode-hint");
    // above the leaves whole sub-grids move, not buildings: the hint says so
    const unitWord = state.data && state.data.units === "grids" ? "_grids" : "";
    hint.textContent = state.mode ? S[`hint_${state.mode}${unitWord}`] || S[`hint_${state.mode}`] || "" : "";
    hint.hidden = !state.mode;
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.mode) setMode(state.mode);
  });
  el("box").addEventListener("click", () => setMode("box"));
  el("draw").addEventListener("click", () => setMode("draw"));
  let boxStart = null;
  let boxRect = null;
  map.on("mousedown", (e) => {
    if (state.mode !== "box") return;
    boxStart = e.latlng;
    boxRect = L.rectangle([e.latlng, e.latlng], { color: "#000", weight: 1, dashArray: "4 4", fill: false }).addTo(map);
  });
  map.on("mousemove", (e) => { if (boxStart) boxRect.setBounds([boxStart, e.latlng]); });
  map.on("mouseup", () => {
    if (!boxStart) return;
    const bounds = boxRect.getBounds();
    map.removeLayer(boxRect);
    boxStart = null;
    for (const [id, layer] of state.buildings) {
      const at = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
      if (bounds.contains(at)) state.selected.add(id);
    }
    restyle();
  });
  let drawn = [];
  let drawLine = null;
  map.on("click", (e) => {
    if (state.mode !== "draw") return;
    drawn.push(e.latlng);
    if (drawLine) map.removeLayer(drawLine);
    drawLine = L.polyline(drawn, { color: "#000", dashArray: "4 4" }).addTo(map);
  });
  map.on("dblclick", () => {
    if (state.mode !== "draw" || drawn.length < 3) return;
    const ring = drawn.map((p) => [p.lng, p.lat]);
    ring.push(ring[0]);
    map.removeLayer(drawLine);
    drawn = [];
    drawLine = null;
    setMode("draw");
    const used = new Set(Object.values(state.assignment));
    let n = used.size + 1;
    while (used.has(`${parentId}-N${n}`)) n += 1;
    const cell = `${parentId}-N${n}`;
    // a new cell is named by the planner (its person goes in the table's field)
    const name = window.prompt(S.new_cell_name, `${S.new_cell} ${n}`);
    if (name && name.trim()) state.names[cell] = name.trim();
    serverEdit({ op: "draw", polygon: { type: "Polygon", coordinates: [ring] }, cell }).then(() => {
      const field = document.querySelector(`input.person[data-cell="${CSS.escape(cell)}"]`);
      if (field) field.focus();
    });
  });

  // -- proposals, versions --------------------------------------------------------------
  const followJob = (jobId) => window.MS.followJob(jobId, undefined, 300);
  el("propose").addEventListener("click", async () => {
    try {
      el("busy").hidden = false;
      const { job_id: jobId } = await call(`/api/planner/${encodeURIComponent(parentId)}/propose`, { target: target(), keep_current: el("keep-current").checked });
      el("busy").hidden = false;
      const result = await followJob(jobId);
      el("busy").hidden = true;
      state.selected.clear();
      // the old cells' names and persons stay with the groups that overlap them most
      for (const [cell, kept] of Object.entries(result.names || {})) {
        if (kept.name) state.names[cell] = kept.name;
        if (kept.person) state.persons[cell] = kept.person;
      }
      commit(result.assignment);
      drawPolygons(result.polygons);
      const notes = result.exceptions.map((x) => `<li>${escapeHtml(x.subject)}: ${escapeHtml(x.reason)}</li>`).join("");
      el("compare-result").innerHTML = `<p>${S.moved_households}: ${result.changed_households}</p>${notes ? `<ul class="issues-list">${notes}</ul>` : ""}`;
    } catch (err) {
      el("busy").hidden = true;
      showError(err);
    }
  });
  el("save").addEventListener("click", async () => {
    try {
      const data = await call(`/api/planner/${encodeURIComponent(parentId)}/versions`, { base_version: state.base, assignment: state.assignment, names: state.names, persons: state.persons });
      state.base = data.version;
      state.lastSaved = data.version;
      el("publish").disabled = false;
      el("version-label").textContent = `v${data.version} ✔ ${S.saved}`;
      el("version-label").dataset.version = String(data.version);
      loadVersions();
    } catch (err) {
      showError(err);
    }
  });
  el("publish").addEventListener("click", async () => {
    if (!state.lastSaved) return;
    try {
      await call(`/api/planner/versions/${state.lastSaved}/publish`, {});
      el("version-label").textContent = `v${state.lastSaved} ✔ ${S.publish}`;
      el("version-label").dataset.published = String(state.lastSaved);
      loadVersions();
    } catch (err) {
      showError(err);
    }
  });
  function localTime(iso) {
    // the district's clock (UTC+8), as every page shows it
    if (!iso) return "";
    return new Date(iso).toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "zh-CN", {
      timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    });
  }
  async function loadVersions() {
    const data = await (await fetch(`/api/planner/${encodeURIComponent(parentId)}/versions`)).json();
    el("versions").innerHTML = data.versions
      .map((v, i) => `<li data-version="${v.version_id}">v${v.version_id} · ${escapeHtml(S[`plan_state_${v.state}`] || v.state)} · ${escapeHtml(v.created_by)} ${escapeHtml(localTime(v.created_at))}` +
        (i + 1 < data.versions.length ? ` <button class="compare" data-a="${data.versions[i + 1].version_id}" data-b="${v.version_id}">${S.compare}</button>` : "") +
        ` <button class="rollback" data-version="${v.version_id}">${S.rollback}</button>` +
        ` <a href="/api/planner/versions/${v.version_id}/export">${S.export}</a></li>`)
      .join("");
  }
  const movedLayer = L.geoJSON(null, { pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 8, color: "#000", weight: 3, fill: false }) }).addTo(map);
  el("versions").addEventListener("click", async (e) => {
    try {
      if (e.target.classList.contains("compare")) {
        const data = await call(`/api/planner/compare?a=${e.target.dataset.a}&b=${e.target.dataset.b}`, undefined, "GET");
        movedLayer.clearLayers();
        movedLayer.addData(data.geojson);
        el("compare-result").innerHTML = `<p>v${data.from_version} → v${data.to_version}: ${data.buildings} · ${S.moved_households} ${data.households}</p>` +
          `<table class="legend">${data.moves.map((m) => `<tr><td>${escapeHtml(m.building_id)}</td><td>${escapeHtml(m.from)} → ${escapeHtml(m.to)}</td><td>${m.households}</td></tr>`).join("")}</table>`;
      }
      if (e.target.classList.contains("rollback")) {
        await call(`/api/planner/${encodeURIComponent(parentId)}/rollback`, { version: Number(e.target.dataset.version) });
        await start();
      }
    } catch (err) {
      showError(err);
    }
  });

  async function start() {
    const data = await (await fetch(`/api/planner/${encodeURIComponent(parentId)}`)).json();
    if (data.message) { showError(new Error(data.message)); return; }
    state.data = data;
    state.base = data.version;
    state.names = Object.fromEntries(data.cells.map((c) => [c.cell_id, c.name]));
    state.persons = Object.fromEntries(data.cells.filter((c) => c.person).map((c) => [c.cell_id, c.person]));
    // the grid and the level being redrawn (小网格 of a 大网格, 微网格 of a 小网格 …)
    el("parent-name").textContent = `${data.parent.name} · ${S.plans_level.replace("{level}", S.levels[data.child_level] || data.child_level)}`;
    el("target-min").value = data.target.minimum;
    el("target-max").value = data.target.maximum;
    el("target-measure").value = data.target.measure;
    el("version-label").textContent = data.version ? `v${data.version}` : "";
    buildingLayer.clearLayers();
    state.buildings.clear();
    state.history = [];
    state.pointer = -1;
    state.selected.clear();
    state.assignment = { ...data.assignment };
    buildingLayer.addData(data.buildings);
    drawPolygons(data.polygons);
    map.fitBounds(L.geoJSON(data.parent.geometry).getBounds(), { padding: [10, 10] });
    commit({ ...data.assignment }, { recompute: false });
    loadVersions();
    document.body.dataset.ready = "1";
  }
  window.msPlanner = { state, toggle, commit };
  start().catch(showError);
})();
