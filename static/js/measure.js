// Command map, colouring by a measure: above the micro-grid, grids are coloured by the
// households (or persons, or their share) in chosen statuses, in graduated classes from
// /api/measure; the legend shows each class's range and number of grids, the panel ranks
// the grids (a click zooms there), and labels (name and value) are drawn without overlap.
(function () {
  "use strict";

  const measure = { data: null, token: 0, chosen: false, labels: [] };
  const el = (id) => document.getElementById(id);

  function ms() {
    return window.msMap;
  }
  function T(key) {
    return ms().T(key); // the translation table of the page's language
  }
  function active() {
    return ms().state.mode === "measure";
  }
  function aboveMicro(level) {
    // the micro-grid (or the finest level a district has) and below keep the status colours
    const levels = ms().state.config.levels;
    const cut = levels.includes("micro") ? levels.indexOf("micro") : levels.length - 1;
    const at = levels.indexOf(level);
    return at >= 0 && at < cut;
  }
  function statuses() {
    return Array.from(el("measure-statuses").querySelectorAll("input:checked")).map((i) => i.value);
  }
  function isShare() {
    return el("measure").value.endsWith("share");
  }
  function shown(value) {
    if (value === null || value === undefined) return "<5";
    if (isShare()) return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
    return String(Math.round(value));
  }

  // -- data -------------------------------------------------------------------------
  function query() {
    // the level (or drilled-into grid), measure, class method, statuses and moment the map
    // shows: the panel's table and the exports ask for the same
    const state = ms().state;
    const where = state.parent
      ? `parent=${encodeURIComponent(state.parent)}`
      : `level=${encodeURIComponent(state.level)}`;
    const parts = [
      where,
      `measure=${el("measure").value}`,
      `method=${el("measure-method").value}`,
      `status=${encodeURIComponent(statuses().join(","))}`,
    ];
    if (state.at) parts.push(`at=${encodeURIComponent(state.at)}`);
    return parts.join("&");
  }
  function tiledLevel() {
    // a level drawn from tiles has no shapes in the page: the answer says where labels go
    const state = ms().state;
    return Boolean(state.tiled && !state.parent);
  }
  async function load() {
    const state = ms().state;
    if (!active()) {
      clearLabels();
      document.body.dataset.measure = "";
      return;
    }
    const token = ++measure.token;
    let data;
    try {
      data = await ms().getJSON(`/api/measure?${query()}${tiledLevel() ? "&labels=1" : ""}`);
    } catch (err) {
      console.warn("measure:", err); // the status colours stay
      data = null;
    }
    if (token !== measure.token) return;
    measure.data = data;
    ms().restyleGrids();
    renderLegend();
    drawLabels();
    document.body.dataset.measure = data ? String(data.seq) : "";
  }

  function colourOf(id) {
    const data = measure.data;
    const row = data && data.grids[id];
    if (!row || row[1] === null) return undefined;
    return row[1] < 0 ? data.zero.colour : data.classes[row[1]].colour;
  }
  function fill(p) {
    return active() ? colourOf(p.id) : undefined;
  }

  // -- legend and ranking -------------------------------------------------------------
  function renderLegend() {
    if (!active() || !measure.data) {
      el("ranking-box").hidden = true;
      return false;
    }
    const esc = ms().escapeHtml;
    const data = measure.data;
    const swatch = (colour) => `<span class="swatch" style="background:${colour}"></span>`;
    const rows = [`<tr><th>${esc(T("class_range"))}</th><th>${esc(T("grids_count"))}</th><th></th></tr>`];
    rows.push(`<tr class="measure-class" data-class="-1"><td>${swatch(data.zero.colour)}${esc(T("none_of_them"))} (0)</td><td>${data.zero.grids}</td><td></td></tr>`);
    data.classes.forEach((c, i) => {
      const low = isShare() ? shown(c.above) : String(Math.floor(c.above) + 1);
      const range = low === shown(c.upto) ? shown(c.upto) : `${low} – ${shown(c.upto)}`;
      rows.push(`<tr class="measure-class" data-class="${i}"><td>${swatch(c.colour)}${esc(range)}</td><td>${c.grids}</td><td></td></tr>`);
    });
    el("legend").innerHTML = rows.join("");
    const ranked = data.ranking
      .slice(0, 10)
      .map(
        (r, i) =>
          `<tr class="rank" data-id="${esc(r.id)}" tabindex="0"><td>${i + 1}</td><td>${esc(r.name || r.id)}</td><td>${shown(r.value)}</td></tr>`
      );
    el("ranking").innerHTML = ranked.join("");
    el("ranking-box").hidden = false;
    return true;
  }

  function zoomTo(id) {
    const layer = ms().state.gridsById.get(id);
    if (layer) {
      ms().map.fitBounds(layer.getBounds(), { maxZoom: 18 });
      layer.openPopup && layer.openPopup();
    }
  }
  el("ranking").addEventListener("click", (e) => {
    const row = e.target.closest("tr.rank");
    if (row) zoomTo(row.dataset.id);
  });

  // -- labels ---------------------------------------------------------------------------
  function clearLabels() {
    for (const label of measure.labels) label.remove();
    measure.labels = [];
  }
  function drawLabels() {
    clearLabels();
    const data = measure.data;
    if (!active() || !data || !el("measure-labels").checked) return;
    const map = ms().map;
    const bounds = map.getBounds();
    const placed = [];
    // the highest values first: when two labels would overlap, the larger value keeps its own
    const labels = data.labels || {};
    const gaode = ms().state.basemap === "gaode";
    function place(id) {
      // the grid's shape when the page holds it, else the point the answer gives
      const layer = ms().state.gridsById.get(id);
      if (layer) return [layer.getBounds().getCenter(), layer.feature.properties.name || id];
      const at = labels[id];
      if (!at) return null;
      const [lon, lat] = gaode ? ms().gcj02.fromWgs84([at[0], at[1]]) : [at[0], at[1]];
      return [L.latLng(lat, lon), at[2] || id];
    }
    const order = Object.entries(data.grids)
      .filter(([id]) => ms().state.gridsById.has(id) || id in labels)
      .sort((a, b) => (b[1][0] || 0) - (a[1][0] || 0));
    for (const [id, row] of order) {
      const [centre, name] = place(id);
      if (!bounds.contains(centre)) continue;
      const html = `<div class="ms-label-box"><span class="ms-label-name">${ms().escapeHtml(name)}</span><span class="ms-label-value">${shown(row[0])}</span></div>`;
      const label = L.marker(centre, {
        icon: L.divIcon({ className: "ms-label", html, iconSize: null }),
        interactive: false,
        keyboard: false,
      }).addTo(map);
      const box = label.getElement().firstChild.getBoundingClientRect();
      const apart = (p) => p.right <= box.left || box.right <= p.left || p.bottom <= box.top || box.bottom <= p.top;
      if (!placed.every(apart)) {
        label.remove(); // it would cover a label of a larger value
        continue;
      }
      placed.push(box);
      measure.labels.push(label);
    }
    document.body.dataset.labels = String(measure.labels.length);
  }

  // -- controls -----------------------------------------------------------------------
  function fillStatuses() {
    const config = ms().state.config;
    const box = el("measure-statuses");
    const worst = Math.max(...config.scheme.codes.map((c) => c.severity || 0));
    for (const c of config.scheme.codes) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = c.code;
      input.checked = (c.severity || 0) === worst;
      label.append(input, ` ${c.label[config.lang] || c.label.zh || c.code}`);
      box.append(label);
    }
  }
  function shownLevel() {
    const state = ms().state;
    if (!state.parent) return state.level;
    const first = state.gridsById.values().next().value;
    return first ? first.feature.properties.level : state.level;
  }
  function chooseDefaultMode() {
    // the measure above the micro-grid, the status colours on it (until the user chooses,
    // or the page's address says which: ?colour=status)
    const asked = new URLSearchParams(window.location.search).get("colour");
    if (!measure.chosen && asked && el("colour-mode").querySelector(`option[value="${CSS.escape(asked)}"]`)) {
      measure.chosen = true;
      ms().state.mode = asked;
      el("colour-mode").value = asked;
      ms().restyleGrids();
      return;
    }
    if (measure.chosen) return;
    const state = ms().state;
    const wanted = aboveMicro(shownLevel()) ? "measure" : "status";
    if (state.mode !== wanted && (state.mode === "measure" || state.mode === "status")) {
      state.mode = wanted;
      el("colour-mode").value = wanted;
      ms().restyleGrids();
    }
  }
  function showControls() {
    el("measure-controls").hidden = !active();
  }

  window.msMeasure = { query, zoomTo, shown };
  document.addEventListener("msmap:ready", () => {
    const state = ms().state;
    const previousFill = state.gridFill;
    state.gridFill = (p) => fill(p) || (previousFill ? previousFill(p) : undefined);
    const previousLegend = state.legendHook;
    state.legendHook = () => renderLegend() || (previousLegend ? previousLegend() : false);
    fillStatuses();
    chooseDefaultMode();
    showControls();
    load().then(() => ms().refreshLegend());
    el("colour-mode").addEventListener("change", () => {
      measure.chosen = true;
      showControls();
      load().then(() => ms().refreshLegend());
    });

    for (const id of ["measure", "measure-method", "measure-statuses"]) {
      el(id).addEventListener("change", () => {
        load();
        document.dispatchEvent(new CustomEvent("msmeasure:changed"));
      });
    }
    el("measure-labels").addEventListener("change", drawLabels);
    ms().map.on("moveend", () => active() && drawLabels());
    document.addEventListener("msmap:loaded", () => {
      chooseDefaultMode(); // a level or a drilled-into grid: its children's level decides
      showControls();
      load().then(() => ms().refreshLegend());
    });
    document.addEventListener("msmap:changed", () => active() && load());
  });
})();
