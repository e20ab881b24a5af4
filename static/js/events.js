// Command map, event layer: colour grids by event count or events per 1,000 households, and
// draw the event points (cases/reports; shown only to logged-in users).
(function () {
  "use strict";

  const events = { summary: null, colours: new Map(), token: 0 };
  const el = (id) => document.getElementById(id);

  function ms() {
    return window.msMap;
  }
  function T(key) {
    const config = ms().state.config;
    return (config && config.strings[key]) || key;
  }
  function mode() {
    const m = ms().state.mode;
    return m === "events" || m === "events_rate" ? m : null;
  }
  function coordsParam(prefix) {
    return ms().state.basemap === "gaode" ? `${prefix}coords=gcj02` : "";
  }

  // -- grid colours and legend ----------------------------------------------------
  async function loadSummary() {
    const state = ms().state;
    const where = state.parent
      ? `parent=${encodeURIComponent(state.parent)}`
      : `level=${encodeURIComponent(state.level)}`;
    const token = ++events.token;
    const summary = await ms().getJSON(`/api/events/summary?${where}`);
    if (token !== events.token) return;
    events.summary = summary;
    applyColours();
  }
  function applyColours() {
    const summary = events.summary;
    const key = mode() === "events_rate" ? "colour_rate" : "colour_count";
    events.colours = new Map(summary ? summary.grids.map((g) => [g.grid_id, g[key]]) : []);
    ms().restyleGrids();
    renderLegend();
    document.body.dataset.eventMode = mode() || "";
  }
  function fill(p) {
    return mode() ? events.colours.get(p.id) : undefined;
  }
  function fmt(value) {
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }
  function renderLegend() {
    const m = mode();
    if (!m || !events.summary) return false;
    const esc = ms().escapeHtml;
    const s = events.summary;
    const rate = m === "events_rate";
    const classes = rate ? s.legend.rate : s.legend.count;
    const swatch = (colour) => `<span class="swatch" style="background:${colour}"></span>`;
    const rows = [`<tr><td>${swatch("#f7f7f7")}${esc(T("no_events"))}</td><td>0</td></tr>`];
    for (const c of classes) {
      const low = rate ? fmt(c.min) : String(c.min + 1);
      const label = !rate && low === String(c.max) ? low : `${low} – ${fmt(c.max)}`;
      rows.push(`<tr class="event-class"><td>${swatch(c.colour)}${esc(label)}</td><td></td></tr>`);
    }
    if (rate) rows.push(`<tr><td>${swatch("#bdbdbd")}${esc(T("no_households"))}</td><td></td></tr>`);
    const head = rate ? T("by_event_rate") : T("by_events");
    el("legend").innerHTML =
      `<tr><th>${esc(head)}</th><th></th></tr>${rows.join("")}` +
      `<tr class="total"><td>${esc(T("events_in_grids"))}</td><td id="legend-events">${s.in_grids}</td></tr>` +
      `<tr><td>${esc(T("events_outside"))}</td><td id="legend-events-outside">${s.outside}</td></tr>`;
    return true;
  }

  // -- event points ----------------------------------------------------------------
  const pointLayer = L.geoJSON(null, {
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: 5,
        color: "#fff",
        weight: 1.5,
        fillColor: f.properties.grid_id ? "#7a0177" : "#999999",
        fillOpacity: 0.95,
      }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      const esc = ms().escapeHtml;
      const parts = [p.name || p.address || p.event_id, p.kind, p.occurred_at];
      const building = p.building_id
        ? `${T("building")} ${p.building_id} (${Math.round(p.building_distance_m)} m)`
        : T("no_building_near");
      layer.bindTooltip(`${parts.filter(Boolean).map(esc).join(" · ")}<br>${esc(building)}`);
      layer.on("add", () => {
        const node = layer.getElement();
        if (!node) return;
        node.classList.add("ms-event");
        node.dataset.id = p.event_id;
      });
    },
  });
  async function loadPoints() {
    if (!document.querySelector(".nav .who")) return; // points are personal data: login only
    try {
      const data = await ms().getJSON(`/api/events${coordsParam("?")}`);
      pointLayer.clearLayers();
      pointLayer.addData(data);
      document.body.dataset.events = String(data.features.length);
    } catch (err) {
      console.warn("events:", err.message);
    }
  }

  // -- grid popups: the grid's event count and rate -----------------------------------
  function popupLine(e) {
    const root = e.popup.getElement();
    const button = root && root.querySelector("button.show-entrances");
    const row = button && events.summary && events.summary.grids.find((g) => g.grid_id === button.dataset.grid);
    if (!row || root.querySelector(".popup-events")) return;
    const rate = row.per_1000 == null ? "–" : fmt(row.per_1000);
    const line = document.createElement("div");
    line.className = "popup-events";
    line.textContent = `${T("by_events")} ${row.events} · ${T("by_event_rate")} ${rate}`;
    button.parentElement.before(line);
  }

  // -- wiring ----------------------------------------------------------------------
  document.addEventListener("msmap:ready", () => {
    const state = ms().state;
    state.gridFill = fill;
    state.legendHook = renderLegend;
    ms().map.on("popupopen", popupLine);
    if (document.querySelector(".nav .who")) {
      state.layersControl.addOverlay(pointLayer, T("events_layer"));
      pointLayer.addTo(ms().map);
      loadPoints();
    }
  });
  document.addEventListener("msmap:loaded", () => {
    if (mode()) loadSummary().catch((err) => console.warn("events:", err.message));
  });
  el("colour-mode").addEventListener("change", () => {
    if (!mode()) return; // map.js has drawn the status legend already
    if (events.summary) applyColours();
    loadSummary().catch((err) => console.warn("events:", err.message));
  });
  el("basemap").addEventListener("change", loadPoints); // points follow the basemap's shift
})();
