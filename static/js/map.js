// Command map: grids and buildings coloured by live status, drill-down, legend, search, live updates.
(function () {
  "use strict";

  const state = {
    config: null,
    level: null,
    version: null, // the store's data version the layers were drawn from (live feed's hello)
    parent: null, // drilled-into grid id, or null for a whole level
    trail: [], // breadcrumb: [{id, name}]
    mode: "status",
    basemap: "none",
    seq: 0,
    gridsById: new Map(),
    buildingsById: new Map(),
    inflight: 0,
    recent: new Set(), // grid ids changed in the last hours, when asked
  };
  const el = (id) => document.getElementById(id);
  const T = (key) => (state.config && state.config.strings[key]) || key;
  const escapeHtml = window.MS.escapeHtml; // common.js
  const csrf = window.MS.csrf;

  const map = L.map("map", { preferCanvas: false, zoomControl: true, attributionControl: true });
  const svg = L.svg({ padding: 0.5 });
  const baseRoads = L.geoJSON(null, {
    renderer: svg,
    interactive: false,
    style: (f) => ({
      color: f.properties.road_class === "main" ? "#8a8f98" : "#b7bcc4",
      weight: f.properties.road_class === "main" ? 4 : f.properties.road_class === "lane" ? 1 : 2,
      opacity: 0.9,
    }),
  });
  const tiles = {
    osm: L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19,
      attribution: "&copy; OpenStreetMap",
    }),
    gaode: L.tileLayer(
      "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
      { subdomains: "1234", maxZoom: 18, attribution: "&copy; 高德地图" }
    ),
  };
  // a tile basemap that cannot be reached (no internet) says so and gives way to our own
  // roads, instead of leaving a blank map
  for (const [name, layer] of Object.entries(tiles)) {
    let loaded = 0;
    let failed = 0;
    layer.on("tileload", () => {
      loaded += 1;
    });
    layer.on("tileerror", () => {
      failed += 1;
      if (loaded || failed < 2 || state.basemap !== name) return;
      const notice = el("basemap-notice");
      notice.textContent = T("basemap_offline").replace("{name}", T(`basemap_${name}`));
      notice.hidden = false;
      document.body.dataset.basemapOffline = name;
      el("basemap").value = "none";
      setBasemap("none", true);
      setTimeout(() => {
        notice.hidden = true;
      }, 15000);
    });
  }
  const gridLayer = L.geoJSON(null, { renderer: svg, style: gridStyle, onEachFeature: bindGrid });
  // a large district draws a whole level as vector tiles coloured from the level's status
  // table (state.table); a drilled-into grid's children stay GeoJSON
  const gridTiles = new window.MSVectorTiles.VectorGrid({ layer: "grids", fill: tiledFill, pane: "overlayPane" });
  const buildingLayer = L.geoJSON(null, {
    renderer: svg,
    style: buildingStyle,
    onEachFeature: bindBuilding,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5 }),
  });
  // a checkpoint a patrol passed within the last hour wears a blue ring (check-ins)
  const PATROLLED = { color: "#1f78b4", weight: 4 };
  const PATROLLED_MS = 3600 * 1000;
  function checkpointTooltip(p) {
    let text = `${T("checkpoints")}: ${escapeHtml(p.name || p.checkpoint_id)}`;
    const seen = state.checkins && state.checkins[p.checkpoint_id];
    if (seen) {
      const when = new Date(seen.last_at).toLocaleTimeString(state.config.lang === "zh" ? "zh-CN" : "en-GB", {
        timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
      });
      text += `<br>${T("last_patrol")}: ${when} · ${escapeHtml(seen.last_by)} · ${seen.passes} ${T("passes")}`;
      if (seen.plan_name) text += `<br>${escapeHtml(seen.plan_name)}`;
    }
    return text;
  }
  function recentlyPatrolled(p) {
    const seen = state.checkins && state.checkins[p.checkpoint_id];
    return Boolean(seen) && Date.now() - new Date(seen.last_at).getTime() < PATROLLED_MS;
  }
  const checkpointLayer = L.geoJSON(null, {
    renderer: svg,
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: 6,
        color: "#222",
        weight: 2,
        ...(recentlyPatrolled(f.properties) ? PATROLLED : {}),
        fillColor: f.properties.staffed ? "#1b9e77" : "#ffffff",
        fillOpacity: 1,
      }).bindTooltip(checkpointTooltip(f.properties)),
  });

  const DELIVERY_COLOURS = { delivered: "#2ca02c", failed: "#d62728", pending: "#1f4e9e" };
  const deliveryLayer = L.geoJSON(null, {
    renderer: svg,
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: 7,
        color: "#fff",
        weight: 2,
        fillColor: DELIVERY_COLOURS[f.properties.state] || DELIVERY_COLOURS.pending,
        fillOpacity: 1,
      }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      layer.bindTooltip(
        `${T("deliveries")}: ${escapeHtml(p.name || p.stop_id)} · ${escapeHtml(p.route_id)} · ${T(p.state)}${
          p.reason ? " · " + escapeHtml(p.reason) : ""
        }`
      );
      layer.on("add", () => {
        const node = layer.getElement();
        if (!node) return;
        node.classList.add("ms-delivery");
        node.dataset.stop = p.stop_id;
        node.dataset.state = p.state;
      });
    },
  });
  async function loadDeliveries() {
    if (!(state.config.menu || []).includes("routes")) return; // deliveries need a role that reads them
    const data = await getJSON("/api/delivery/progress");
    deliveryLayer.clearLayers();
    deliveryLayer.addData(data);
    document.body.dataset.deliveries = JSON.stringify(data.counts || {});
  }

  // -- busy state ---------------------------------------------------------------
  function getJSON(url) {
    return requestJSON(url, { headers: { Accept: "application/json" } });
  }
  function postJSON(url, body) {
    return requestJSON(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  }
  async function requestJSON(url, options) {
    state.inflight += 1;
    el("busy").hidden = false;
    document.body.classList.add("busy");
    try {
      const response = await fetch(url, options);
      if (!response.ok) {
        let message = `${response.status}`;
        try {
          message = (await response.json()).message || message;
        } catch (_) {
          /* not JSON */
        }
        throw new Error(message);
      }
      return await response.json();
    } finally {
      state.inflight -= 1;
      if (state.inflight === 0) {
        el("busy").hidden = true;
        document.body.classList.remove("busy");
      }
    }
  }

  function coordsParam() {
    const rule = state.rule ? `&rule=${state.rule}` : "";
    return (state.basemap === "gaode" ? "&coords=gcj02" : "") + rule;
  }
  function bboxParam() {
    const b = map.getBounds().pad(state.basemap === "gaode" ? 0.3 : 0.1);
    return `bbox=${b.getWest().toFixed(6)},${b.getSouth().toFixed(6)},${b.getEast().toFixed(6)},${b.getNorth().toFixed(6)}`;
  }

  // -- styles -------------------------------------------------------------------
  function fillFor(p) {
    const hooked = state.gridFill && state.gridFill(p); // e.g. events.js colours by event count
    if (hooked) return hooked;
    return state.mode === "area" && p.kind === "grid" ? p.area_colour : p.colour;
  }
  function statusColour(code) {
    const scheme = state.config.scheme;
    const found = code && scheme.codes.find((c) => c.code === code);
    return found ? found.colour : scheme.none.colour;
  }
  function tiledFill(props) {
    const hooked = state.gridFill && state.gridFill(props); // a measure, events
    if (hooked) return hooked;
    const row = state.table && state.table.rows[props.id];
    if (!row) return null;
    return statusColour(row[0]);
  }
  function rowOfStatus(status) {
    // a status dict of /api/changes as a row of the compact table
    const codes = state.table.codes;
    return [
      status.status,
      status.households,
      status.persons,
      codes.map((c) => (status.counts || {})[c] ?? 0),
      codes.map((c) => (status.person_counts || {})[c] ?? 0),
    ];
  }
  function gridStyle(f) {
    const faint = state.showingBuildings && state.mode === "status";
    const base = { color: "#333", weight: 1.2, fillColor: fillFor(f.properties), fillOpacity: faint ? 0.22 : 0.55 };
    const recent = state.recent.has(f.properties.id) ? RECENT_STYLE : {};
    return { ...base, ...recent, ...focusStyle(f) };
  }
  // grids whose status changed in the last hours (before the moment shown): outlined
  const RECENT_STYLE = { color: "#7b3294", weight: 3, dashArray: "6 3" };
  async function loadRecent() {
    const hours = el("recent-hours").value;
    let ids = [];
    if (hours) {
      try {
        ids = (await getJSON(`/api/recent?hours=${encodeURIComponent(hours)}${atParam()}`)).grids;
      } catch (err) {
        console.warn("recent:", err);
      }
    }
    state.recent = new Set(ids);
    gridLayer.setStyle(gridStyle);
    document.body.dataset.recent = hours ? String(state.recent.size) : "";
  }
  function buildingStyle(f) {
    return { color: "#222", weight: 0.8, fillColor: f.properties.colour, fillOpacity: 0.9, ...focusStyle(f) };
  }
  function tagElement(layer, kind, id) {
    const node = layer.getElement && layer.getElement();
    if (node) {
      node.dataset.kind = kind;
      node.dataset.id = id;
      node.classList.add(`ms-${kind}`);
    }
  }

  // -- popups -------------------------------------------------------------------
  function countsTable(p) {
    const scheme = state.config.scheme;
    const rows = scheme.codes
      .filter((c) => p.counts[c.code])
      .map(
        (c) =>
          `<tr><td><span class="swatch" style="background:${c.colour}"></span>${escapeHtml(
            labelOf(c)
          )}</td><td>${p.counts[c.code] || 0}</td><td>${(p.person_counts || {})[c.code] || 0}</td></tr>`
      );
    if (p.counts.none) {
      rows.push(`<tr><td><span class="swatch" style="background:${scheme.none.colour}"></span>${escapeHtml(
        T("no_status"))}</td><td>${p.counts.none}</td><td>${(p.person_counts || {}).none || 0}</td></tr>`);
    }
    return `<table class="counts"><tr><th></th><th>${T("households")}</th><th>${T("persons")}</th></tr>${rows.join(
      ""
    )}<tr class="total"><td>${T("total")}</td><td>${p.households}</td><td>${p.persons}</td></tr></table>`;
  }
  function labelOf(code) {
    const lang = state.config.lang;
    return (code.label && code.label[lang]) || code.code;
  }
  function may(ability) {
    return (state.config.abilities || []).includes(ability);
  }
  function gridPopup(p) {
    const levelName = state.config.level_labels[p.level] || p.level;
    const person = p.person ? `<div>${T("person_in_charge")}: ${escapeHtml(p.person)} ${escapeHtml(p.phone || "")}</div>` : "";
    const area = p.area_class && p.area_class !== "none" ? ` · ${T("area_" + p.area_class)}` : "";
    const drill = p.children
      ? `<button class="drill" data-grid="${escapeHtml(p.id)}">${T("drill_down")} (${p.children})</button>`
      : "";
    const id = escapeHtml(p.id);
    // only the buttons this reader can use: a role without the cordon gets no cordon button
    const cordon = may("cordon.read")
      ? `<button class="show-entrances" data-grid="${id}">${T("entrances")}</button><button class="show-cordon" data-grid="${id}">${T("cordon")}</button>`
      : "";
    const planner = p.children && (state.config.menu || []).includes("planner")
      ? `<a class="open-planner" href="/planner?parent=${encodeURIComponent(p.id)}">${T("open_planner")}</a>`
      : "";
    const board = may("personal.read") && !p.suppressed
      ? `<a class="open-board" href="/board/${encodeURIComponent(p.id)}" target="_blank" rel="noopener">${T("board_sheet")}</a>`
      : "";
    const patrols = (state.config.menu || []).includes("routes")
      ? `<a class="open-patrols" href="/routes?grid=${encodeURIComponent(p.id)}#patrols">${T("patrol_plans")}</a>`
      : "";
    const actions = `<div class="actions">${drill}${cordon}${planner}${board}${patrols}</div>`;
    return `<div class="popup"><strong>${escapeHtml(p.name)}</strong> <small>${escapeHtml(levelName)}${area}</small>${person}${countsTable(p)}${actions}</div>`;
  }
  function buildingPopup(p) {
    return `<div class="popup"><strong>${escapeHtml(p.name || p.id)}</strong> <small>${escapeHtml(p.grid_name || "")}</small>${countsTable(p)}</div>`;
  }
  function bindGrid(feature, layer) {
    const p = feature.properties;
    state.gridsById.set(p.id, layer);
    layer.bindPopup(() => gridPopup(layer.feature.properties));
    layer.on("add", () => tagElement(layer, "grid", p.id));
    layer.bindTooltip(() => escapeHtml(layer.feature.properties.name), { sticky: true });
  }
  function bindBuilding(feature, layer) {
    const p = feature.properties;
    state.buildingsById.set(p.id, layer);
    layer.bindPopup(() => buildingPopup(layer.feature.properties));
    layer.on("add", () => tagElement(layer, "building", p.id));
  }
  map.on("click", async (e) => {
    if (!tiled() || !map.hasLayer(gridTiles) || sketch) return;
    const props = gridTiles.featureAt(e.latlng);
    if (props) await openTiledPopup(props.id, e.latlng);
  });
  async function openTiledPopup(gridId, latlng) {
    // a tile carries no status or contact: the grid's own answer (cut to the reader's area)
    const own = await getJSON(`/api/grids?id=${encodeURIComponent(gridId)}${coordsParam()}`);
    if (!own.features.length) return;
    L.popup().setLatLng(latlng).setContent(gridPopup(own.features[0].properties)).openOn(map);
  }
  map.on("click", dropFocus); // a click elsewhere ends a search's highlight
  map.on("popupopen", (e) => {
    const root = e.popup.getElement();
    const close = root.querySelector(".leaflet-popup-close-button");
    if (close) close.addEventListener("click", dropFocus);
    const button = root.querySelector("button.drill");
    if (button) button.addEventListener("click", () => drillInto(button.dataset.grid));
    const entrances = root.querySelector("button.show-entrances");
    if (entrances) entrances.addEventListener("click", () => showEntrances({ grid: entrances.dataset.grid }));
    const cordon = root.querySelector("button.show-cordon");
    if (cordon) cordon.addEventListener("click", () => showCordon({ grid: cordon.dataset.grid }));
  });

  // -- checkpoints: entrances and cordon plans (the panel lives in cordon.js) ----------
  const { STATE_COLOURS, PLACEMENT_COLOURS, showEntrances, showCordon, renderCoverage, showCoveragePanel } =
    window.MSCordon({
      map, svg, state, el, T, escapeHtml, getJSON, postJSON,
      toDisplay: (geojson) => toDisplay(geojson),
      clearDrawnArea: () => clearDrawnArea(),
    });

  // the GCJ-02 (Gaode) shift lives in coords.js, as crs.py has it
  const { wgsToGcj, gcjToWgs } = window.MSCoords;
  function mapCoordinates(geojson, fn) {
    const deep = (c) => (typeof c[0] === "number" ? fn(c) : c.map(deep));
    const walk = (g) => {
      if (!g) return g;
      if (g.type === "FeatureCollection") return { ...g, features: g.features.map(walk) };
      if (g.type === "Feature") return { ...g, geometry: walk(g.geometry) };
      if (g.type === "GeometryCollection") return { ...g, geometries: g.geometries.map(walk) };
      return { ...g, coordinates: deep(g.coordinates) };
    };
    return walk(geojson);
  }
  function toDisplay(geojson) {
    // Server answers are EPSG:4326; over Gaode tiles everything is drawn in GCJ-02.
    return state.basemap === "gaode" ? mapCoordinates(geojson, wgsToGcj) : geojson;
  }

  // -- drawing an area: click adds a vertex, double-click or Finish closes, Esc cancels ------
  const DRAW_STYLE = { color: "#e8590c", weight: 2, dashArray: "6 4", fillColor: "#e8590c", fillOpacity: 0.08 };
  let sketch = null; // {points: [LatLng in display coordinates], shape, rubber}
  function setDrawing(on) {
    if (sketch) {
      map.removeLayer(sketch.shape);
      map.removeLayer(sketch.rubber);
      sketch = null;
    }
    if (on) {
      map.closePopup();
      const opts = { ...DRAW_STYLE, renderer: svg, interactive: false };
      sketch = {
        points: [],
        shape: L.polygon([], opts).addTo(map),
        rubber: L.polyline([], { ...opts, fill: false, opacity: 0.6 }).addTo(map),
      };
      map.doubleClickZoom.disable();
    } else {
      map.doubleClickZoom.enable();
    }
    el("draw-area").setAttribute("aria-pressed", String(on));
    el("draw-finish").hidden = !on;
    el("draw-hint").hidden = !on;
    el("draw-finish").disabled = true;
    map.getContainer().classList.toggle("ms-drawing", on);
    document.body.dataset.drawing = on ? "1" : "0";
  }
  function finishDrawing() {
    if (!sketch || sketch.points.length < 3) return;
    const back = state.basemap === "gaode" ? gcjToWgs : (c) => c;
    const ring = sketch.points.map((p) => back([p.lng, p.lat]).map((v) => Number(v.toFixed(7))));
    ring.push(ring[0].slice());
    setDrawing(false);
    state.drawnArea = { type: "Polygon", coordinates: [ring] };
    renderDrawnArea();
    state.coverageData = null;
    state.coverageArea = null;
    renderCoverage();
    el("area-actions").hidden = false;
    showCoveragePanel(T("drawn_area"));
    el("coverage-summary").innerHTML = "";
    el("tradeoff").innerHTML = "";
    document.body.dataset.area = JSON.stringify(state.drawnArea);
  }
  function renderDrawnArea() {
    if (state.drawnLayer) map.removeLayer(state.drawnLayer);
    state.drawnLayer = null;
    if (!state.drawnArea) return;
    state.drawnLayer = L.geoJSON(toDisplay(state.drawnArea), {
      renderer: svg,
      interactive: false,
      style: () => DRAW_STYLE,
    }).addTo(map);
  }
  function clearDrawnArea() {
    state.drawnArea = null;
    renderDrawnArea();
    el("area-actions").hidden = true;
    delete document.body.dataset.area;
  }
  map.on("click", (e) => {
    if (!sketch) return;
    const last = sketch.points[sketch.points.length - 1];
    // the two clicks of a double-click land on one spot: keep one vertex
    if (last && map.latLngToContainerPoint(last).distanceTo(e.containerPoint) < 4) return;
    sketch.points.push(e.latlng);
    sketch.shape.setLatLngs(sketch.points);
    el("draw-finish").disabled = sketch.points.length < 3;
  });
  map.on("mousemove", (e) => {
    if (!sketch || !sketch.points.length) return;
    const pts = sketch.points;
    sketch.rubber.setLatLngs(pts.length > 1 ? [pts[pts.length - 1], e.latlng, pts[0]] : [pts[0], e.latlng]);
  });
  map.on("dblclick", finishDrawing);
  el("draw-area").addEventListener("click", () => setDrawing(!sketch));
  el("draw-finish").addEventListener("click", finishDrawing);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && sketch) setDrawing(false);
  });
  el("area-entrances").addEventListener("click", () => {
    if (state.drawnArea) showEntrances({ polygon: state.drawnArea });
  });
  el("area-cordon").addEventListener("click", () => {
    if (state.drawnArea) showCordon({ polygon: state.drawnArea });
  });

  // -- loading by level and viewport --------------------------------------------
  let loadToken = 0;
  async function loadTiledLevel() {
    // the status rows of the level's grids around the view (a city's level table is
    // megabytes): fetched with a margin, merged, and kept current by the live feed; the
    // tiles follow the viewport by themselves
    const rule = state.rule ? `&rule=${state.rule}` : "";
    const key = `${state.level}|${rule}|${state.at || ""}|${state.version}`;
    if (state.tableKey !== key) {
      state.table = null;
      state.tableAreas = [];
      state.tableKey = key;
    }
    const view = map.getBounds().pad(state.basemap === "gaode" ? 0.3 : 0.1);
    let answer = state.table;
    if (!state.table || !state.tableAreas.some((b) => b.contains(view))) {
      const wide = map.getBounds().pad(0.5);
      const bbox = [wide.getWest(), wide.getSouth(), wide.getEast(), wide.getNorth()].map((v) => v.toFixed(6));
      answer = await getJSON(`/api/status/grids?level=${encodeURIComponent(state.level)}&bbox=${bbox.join(",")}${rule}${atParam()}`);
      if (state.tableKey !== key) return answer; // the level or rule changed meanwhile
      if (state.table) Object.assign(state.table.rows, answer.rows);
      else state.table = answer;
      state.tableAreas.push(wide);
    }
    // the data version in the address: tiles drawn before a published plan are not reused
    const query = `level=${encodeURIComponent(state.level)}${state.basemap === "gaode" ? "&coords=gcj02" : ""}&v=${state.version || 0}`;
    if (gridTiles.options.query !== query) {
      gridTiles.options.query = query;
      if (map.hasLayer(gridTiles)) gridTiles.redraw();
    } else {
      gridTiles.repaint();
    }
    if (!map.hasLayer(gridTiles)) gridTiles.addTo(map);
    return answer;
  }
  function tiled() {
    return state.tiled && !state.parent;
  }
  function atParam() {
    // a past moment chosen on the history slider: grids, legend and table as of then
    return state.at ? `&at=${encodeURIComponent(state.at)}` : "";
  }
  async function loadFeatures() {
    const token = ++loadToken;
    let grids;
    if (tiled()) {
      grids = await loadTiledLevel();
      gridLayer.clearLayers();
      state.gridsById.clear();
    } else {
      if (map.hasLayer(gridTiles)) map.removeLayer(gridTiles);
      state.table = null;
      state.tableKey = null;
      const where = state.parent ? `parent=${encodeURIComponent(state.parent)}` : `level=${encodeURIComponent(state.level)}&${bboxParam()}`;
      grids = await getJSON(`/api/grids?${where}${coordsParam()}${atParam()}`);
    }
    if (token !== loadToken) return;
    const showBuildings = Boolean(state.parent) || map.getZoom() >= 16;
    state.showingBuildings = showBuildings;
    if (!tiled()) {
      gridLayer.clearLayers();
      state.gridsById.clear();
      gridLayer.addData(grids);
    }
    buildingLayer.clearLayers();
    state.buildingsById.clear();
    let buildings = null;
    if (showBuildings && !state.config.public && !state.at) {
      // (a past moment shows grids only: buildings are kept as they are now)
      const where2 = state.parent ? `grid=${encodeURIComponent(state.parent)}` : bboxParam();
      buildings = await getJSON(`/api/buildings?${where2}${coordsParam()}`);
      if (token !== loadToken) return;
      buildingLayer.addData(buildings);
    }
    if (state.basemap === "none" && (state.parent || map.getZoom() >= 14)) {
      const roads = await getJSON(`/api/roads?${bboxParam()}${coordsParam()}`);
      if (token !== loadToken) return;
      baseRoads.clearLayers();
      baseRoads.addData(roads);
    } else {
      baseRoads.clearLayers();
    }
    // an answer may be up to a second older than the live feed: bring it on from its own seq
    if (!state.at) await catchUp(Math.min(grids.seq ?? state.seq, (buildings && buildings.seq) ?? state.seq));
    if (token !== loadToken) return;
    document.body.dataset.loaded = String(token);
    restoreFocus();
    document.dispatchEvent(new CustomEvent("msmap:loaded"));
    if (el("recent-hours").value) loadRecent();
  }

  async function loadCheckpoints() {
    const data = await getJSON(`/api/checkpoints?${coordsParam().slice(1)}`);
    state.checkpointData = data;
    await loadCheckins();
  }
  // the patrols' check-ins of the last day, for roles that see routes; asked again each minute
  async function loadCheckins() {
    if (may("routes.read")) {
      try {
        state.checkins = (await getJSON("/api/checkins?hours=24")).checkpoints;
      } catch (err) {
        state.checkins = state.checkins || {}; // keep the last known passes
      }
    }
    if (!state.checkpointData) return;
    checkpointLayer.clearLayers();
    checkpointLayer.addData(state.checkpointData);
    document.body.dataset.checkins = String(Object.keys(state.checkins || {}).length);
  }
  setInterval(() => {
    if (state.checkpointData && may("routes.read")) loadCheckins();
  }, 60 * 1000);

  // -- legend -------------------------------------------------------------------
  // a count the server suppressed for the public (below 5 households) is null: "<5"
  const shown = (n) => (n === null ? T("suppressed") : n || 0);
  // -- the symbol legend: what the points and outlines on the map mean ----------------
  function renderSymbols() {
    const dot = (fill, stroke, r) =>
      `<svg width="18" height="18" aria-hidden="true"><circle cx="9" cy="9" r="${r}" fill="${fill}" stroke="${stroke}" stroke-width="2"/></svg>`;
    const line = (colour, dash, width) =>
      `<svg width="22" height="14" aria-hidden="true"><rect x="2" y="2" width="18" height="10" fill="none" stroke="${colour}" stroke-width="${width}" stroke-dasharray="${dash}"/></svg>`;
    const rows = [
      [dot("#1b9e77", "#222", 6), `${T("checkpoints")} · ${T("staffed")}`],
      [dot("#ffffff", "#222", 6), `${T("checkpoints")} · ${T("unstaffed")}`],
      ...(may("routes.read") ? [[dot("#ffffff", PATROLLED.color, 6), `${T("checkpoints")} · ${T("patrolled_hour")}`]] : []),
      [dot(DELIVERY_COLOURS.pending, "#fff", 7), `${T("delivery_mark")} · ${T("pending")}`],
      [dot(DELIVERY_COLOURS.delivered, "#fff", 7), `${T("delivery_mark")} · ${T("delivered")}`],
      [dot(DELIVERY_COLOURS.failed, "#fff", 7), `${T("delivery_mark")} · ${T("failed")}`],
      [dot("#7a0177", "#fff", 5), T("events_layer")],
      [dot(STATE_COLOURS.uncovered, "#fff", 8), `${T("entrances")} · ${T("uncovered")}`],
      [dot(STATE_COLOURS.closed, "#fff", 8), `${T("entrances")} · ${T("closed")}`],
      [dot(PLACEMENT_COLOURS.barrier, "#fff", 5), `${T("cordon")} · ${T("barrier")}`],
      [line(RECENT_STYLE.color, RECENT_STYLE.dashArray, 2), T("recently_changed")],
      [line("#00a0e9", "", 3), T("search_hit")],
    ];
    el("symbols-table").innerHTML = rows.map(([icon, text]) => `<tr><td>${icon}</td><td>${escapeHtml(text)}</td></tr>`).join("");
  }

  async function refreshLegend(summary) {
    if (state.legendHook && state.legendHook()) return; // another colouring draws its own legend
    if (!summary) {
      const where = [state.parent ? `grid=${encodeURIComponent(state.parent)}` : "", atParam().slice(1)].filter(Boolean);
      summary = await getJSON(`/api/summary${where.length ? `?${where.join("&")}` : ""}`);
    }
    const scheme = state.config.scheme;
    const rows = [];
    const codes = state.mode === "area" ? null : scheme.codes;
    if (codes) {
      for (const c of codes) {
        rows.push(
          `<tr data-code="${c.code}"><td><span class="swatch" style="background:${c.colour}"></span>${escapeHtml(
            labelOf(c)
          )}</td><td class="count" data-code="${c.code}">${shown(summary.counts[c.code])}</td><td class="persons" data-code="${c.code}">${
            shown(summary.person_counts[c.code])
          }</td></tr>`
        );
      }
      rows.push(
        `<tr data-code="none"><td><span class="swatch" style="background:${scheme.none.colour}"></span>${T(
          "no_status"
        )}</td><td class="count" data-code="none">${summary.counts.none || 0}</td><td class="persons" data-code="none">${summary.person_counts.none || 0}</td></tr>`
      );
    } else {
      for (const c of state.config.area_scheme.codes) {
        rows.push(`<tr><td><span class="swatch" style="background:${c.colour}"></span>${escapeHtml(labelOf(c))}</td><td></td><td></td></tr>`);
      }
    }
    el("legend").innerHTML = `<tr><th></th><th>${T("households")}</th><th>${T("persons")}</th></tr>${rows.join(
      ""
    )}<tr class="total"><td>${T("total")}</td><td id="legend-households">${summary.households}</td><td id="legend-persons">${summary.persons}</td></tr>`;
  }

  function renderBreadcrumb() {
    const parts = [`<a href="#" data-index="-1">${T("whole_area")}</a>`];
    state.trail.forEach((step, i) => parts.push(`<a href="#" data-index="${i}">${escapeHtml(step.name)}</a>`));
    el("breadcrumb").innerHTML = parts.join(" › ");
  }
  el("breadcrumb").addEventListener("click", (e) => {
    const a = e.target.closest("a");
    if (!a) return;
    e.preventDefault();
    const index = Number(a.dataset.index);
    state.trail = state.trail.slice(0, index + 1);
    state.parent = index < 0 ? null : state.trail[index].id;
    renderBreadcrumb();
    reload(true);
  });

  async function drillInto(gridId) {
    let layer = state.gridsById.get(gridId);
    let name = layer ? layer.feature.properties.name : null;
    if (!name) {
      const own = await getJSON(`/api/grids?id=${encodeURIComponent(gridId)}${coordsParam()}`);
      name = own.features.length ? own.features[0].properties.name : gridId;
    }
    state.trail.push({ id: gridId, name });
    state.parent = gridId;
    map.closePopup();
    renderBreadcrumb();
    await reload(true);
  }

  async function reload(fit) {
    await loadFeatures();
    if (fit && gridLayer.getLayers().length) map.fitBounds(gridLayer.getBounds(), { maxZoom: 18 });
    await refreshLegend();
  }

  // -- live updates ---------------------------------------------------------------
  function applyChange(data) {
    if (state.at) return; // a past moment is shown: the live changes wait for "now"
    if (data.reload) {
      // too much moved to send one by one (a replacing import, a long disconnection)
      reload(false);
      return;
    }
    if (state.table) {
      const moved = new Set();
      for (const [id, status] of Object.entries(data.grids)) {
        if (!(id in state.table.rows)) continue;
        state.table.rows[id] = rowOfStatus(status);
        moved.add(id);
      }
      if (moved.size) gridTiles.repaint(moved);
      if (data.seq > state.table.seq) state.table.seq = data.seq;
    }
    for (const [id, status] of Object.entries(data.grids)) {
      const layer = state.gridsById.get(id);
      if (!layer) continue;
      Object.assign(layer.feature.properties, status);
      layer.setStyle(gridStyle(layer.feature));
    }
    for (const [id, status] of Object.entries(data.buildings)) {
      const layer = state.buildingsById.get(id);
      if (!layer) continue;
      Object.assign(layer.feature.properties, status);
      layer.setStyle(buildingStyle(layer.feature));
    }
    if (state.parent) {
      const own = data.grids[state.parent];
      if (own) refreshLegend(own);
    } else {
      refreshLegend(data.summary);
    }
    if (Object.keys(data.grids).length) {
      document.dispatchEvent(new CustomEvent("msmap:changed"));
      if (el("recent-hours").value) loadRecent();
    }
  }
  async function catchUp(seq) {
    // changes answers may be a second old too: ask again from where each one ends
    for (let tries = 0; seq < state.seq && tries < 5; tries++) {
      if (tries) await new Promise((done) => setTimeout(done, 500));
      const data = await getJSON(`/api/changes?since=${seq}${state.rule ? `&rule=${state.rule}` : ""}`);
      applyChange(data);
      seq = Math.max(seq, data.seq);
      if (data.seq > state.seq) {
        state.seq = data.seq;
        document.body.dataset.seq = String(state.seq);
      }
    }
  }
  let fetching = false;
  async function pullChanges() {
    if (fetching) return;
    fetching = true;
    try {
      const data = await getJSON(`/api/changes?since=${state.seq}${state.rule ? `&rule=${state.rule}` : ""}`);
      if (data.seq > state.seq) {
        state.seq = data.seq;
        applyChange(data);
        document.body.dataset.seq = String(state.seq);
      }
    } finally {
      fetching = false;
    }
  }
  function connectLive() {
    if (state.source) state.source.close(); // the stream's deltas are coloured by one rule
    const source = (state.source = new EventSource(`/api/stream?since=${state.seq}${state.rule ? `&rule=${state.rule}` : ""}`));
    source.addEventListener("change", (e) => {
      const data = JSON.parse(e.data);
      if (data.seq <= state.seq) return;
      // the event carries the coalesced delta since the stream's last event; a map
      // whose data is older than that (or an event without the delta) pulls the changes
      if (data.grids && data.buildings && data.since <= state.seq) {
        state.seq = data.seq;
        applyChange(data);
        document.body.dataset.seq = String(state.seq);
      } else {
        pullChanges();
      }
    });
    source.addEventListener("hello", (e) => {
      el("live").classList.add("on");
      liveBack();
      const hello = JSON.parse(e.data || "{}");
      if (state.version === null) state.version = hello.version;
      else if (hello.version !== undefined) layersMoved(hello.version); // redrawn while away
    });
    source.addEventListener("layers", (e) => layersMoved(JSON.parse(e.data).version));
    for (const kind of ["hello", "change", "ping", "layers", "delivery"]) {
      source.addEventListener(kind, heard);
    }
    source.addEventListener("delivery", () => loadDeliveries());
    source.onerror = () => {
      el("live").classList.remove("on");
      liveLost();
    };
  }
  // grids or buildings redrawn (a published micro-grid plan): the open map reloads them
  function layersMoved(version) {
    if (version === state.version) return;
    state.version = version;
    state.table = null;
    state.tableKey = null;
    reload(false).then(() => document.dispatchEvent(new CustomEvent("msmap:layers")));
    document.body.dataset.version = String(version);
  }
  // a banner, not only a dot, when the live feed has been down a few seconds
  const LIVE_GRACE_MS = 3000;
  let liveTimer = null;
  function liveLost() {
    if (liveTimer || !el("stale").hidden) return;
    const since = new Date();
    liveTimer = setTimeout(() => {
      liveTimer = null;
      const time = since.toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
      el("stale").textContent = T("live_lost").replace("{time}", time);
      el("stale").hidden = false;
      document.body.dataset.stale = "1";
    }, LIVE_GRACE_MS);
  }
  // the server pings every 15 s: a map that has heard nothing for a minute says its data
  // may be old, even when the connection looks open (a proxy holding the stream back)
  const STALE_MS = 60000;
  state.heardAt = Date.now();
  function heard() {
    state.heardAt = Date.now();
    if (document.body.dataset.stale === "old") liveBack();
  }
  function checkStale() {
    if (Date.now() - state.heardAt < STALE_MS || document.body.dataset.stale === "1") return;
    const time = new Date(state.heardAt).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    el("stale").textContent = T("data_stale").replace("{time}", time);
    el("stale").hidden = false;
    document.body.dataset.stale = "old";
  }
  setInterval(checkStale, 5000);
  function liveBack() {
    clearTimeout(liveTimer);
    liveTimer = null;
    el("stale").hidden = true;
    document.body.dataset.stale = "";
  }

  // -- search ---------------------------------------------------------------------
  let searchTimer = null;
  el("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 200);
  });
  el("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch(true);
  });
  async function runSearch(jump) {
    const q = el("search").value.trim();
    const list = el("search-results");
    if (!q) {
      list.hidden = true;
      return;
    }
    const data = await getJSON(`/api/search?q=${encodeURIComponent(q)}`);
    list.innerHTML = data.results.length
      ? data.results
          .map(
            (r, i) =>
              `<li><a href="#" data-i="${i}">${escapeHtml(r.name || r.id)} <small>${escapeHtml(
                r.kind === "grid" ? state.config.level_labels[r.level] || r.level : T(r.kind === "household" ? "household" : "building")
              )}</small>${
                r.match === "person" ? `<small class="who">${escapeHtml([r.person, r.phone].filter(Boolean).join(" "))}</small>` : ""
              }${r.path && r.path.length ? `<small class="path">${escapeHtml(r.path.join(" › "))}</small>` : ""}</a></li>`
          )
          .join("")
      : `<li>${T("not_found")}</li>`;
    list.hidden = false;
    list.onclick = (e) => {
      const a = e.target.closest("a");
      if (!a) return;
      e.preventDefault();
      goTo(data.results[Number(a.dataset.i)]);
    };
    if (jump === true && data.results.length) goTo(data.results[0]);
  }
  async function goTo(hit) {
    el("search-results").hidden = true;
    const [w, s, e, n] = hit.bbox;
    if (hit.kind === "grid" && hit.level && hit.level !== state.level && !state.parent) {
      state.level = hit.level;
      el("level").value = hit.level;
    }
    // the hit stays highlighted with its popup open through the reloads its zoom causes,
    // until the user closes it or clicks elsewhere
    // a room lands on its building, the room named in the popup
    const room = hit.kind === "household";
    state.focus = {
      kind: room ? "building" : hit.kind,
      id: room ? hit.building_id : hit.id,
      room: room ? hit.name : null,
      at: L.latLng((s + n) / 2, (w + e) / 2),
    };
    document.body.dataset.focus = state.focus.id;
    map.fitBounds([[s, w], [n, e]], { maxZoom: 18, animate: false });
    await loadFeatures();
  }
  function focusStyle(f) {
    return state.focus && f.id === state.focus.id ? { color: "#00a0e9", weight: 4, dashArray: null } : {};
  }
  function restoreFocus() {
    const focus = state.focus;
    if (!focus) return;
    const layer = (focus.kind === "grid" ? state.gridsById : state.buildingsById).get(focus.id);
    if (layer) {
      layer.setStyle(focus.kind === "grid" ? gridStyle(layer.feature) : buildingStyle(layer.feature));
      layer.bringToFront();
      // a popup of its own, not the layer's: the reloads its opening pan causes replace
      // the layers (and would close a layer's popup), not this one
      if (!focus.popup || !map.hasLayer(focus.popup)) {
        const p = layer.feature.properties;
        focus.popup = L.popup()
          .setLatLng(layer.getBounds().getCenter())
          .setContent(
            (focus.room ? `<div class="room-hit">${T("household")}: ${escapeHtml(focus.room)}</div>` : "") +
              (focus.kind === "grid" ? gridPopup(p) : buildingPopup(p))
          )
          .openOn(map);
      }
    } else if (focus.kind === "grid" && tiled() && !map._popup) {
      openTiledPopup(focus.id, focus.at);
    }
  }
  function dropFocus() {
    if (!state.focus) return;
    const layer = (state.focus.kind === "grid" ? state.gridsById : state.buildingsById).get(state.focus.id);
    state.focus = null;
    document.body.dataset.focus = "";
    if (layer) layer.setStyle(layer.feature.properties.kind === "grid" ? gridStyle(layer.feature) : buildingStyle(layer.feature));
  }

  // -- controls -------------------------------------------------------------------
  el("level").addEventListener("change", () => {
    state.level = el("level").value;
    state.parent = null;
    state.trail = [];
    renderBreadcrumb();
    reload(false);
  });
  el("colour-rule").addEventListener("change", () => {
    state.rule = el("colour-rule").value;
    loadFeatures();
    if (state.source) connectLive();
  });
  el("colour-mode").addEventListener("change", () => {
    state.mode = el("colour-mode").value;
    gridLayer.setStyle(gridStyle);
    gridTiles.repaint();
    refreshLegend();
  });
  el("basemap").addEventListener("change", () => setBasemap(el("basemap").value, true));
  el("recent-hours").addEventListener("change", loadRecent);

  function setBasemap(name, reloadData) {
    state.basemap = name;
    for (const layer of Object.values(tiles)) map.removeLayer(layer);
    if (name === "none") {
      baseRoads.addTo(map);
    } else {
      map.removeLayer(baseRoads);
      tiles[name].addTo(map);
    }
    if (sketch) setDrawing(false); // its vertices were in the old basemap's coordinates
    renderDrawnArea();
    renderCoverage();
    if (reloadData) {
      loadFeatures();
      loadCheckpoints();
    }
  }

  let moveTimer = null;
  function followViewport() {
    map.on("moveend", () => {
      if (state.parent) return;
      clearTimeout(moveTimer);
      moveTimer = setTimeout(loadFeatures, 150);
    });
  }

  // -- start ----------------------------------------------------------------------
  async function start() {
    const params = new URLSearchParams(location.search);
    state.config = await getJSON("/api/config");
    state.version = state.config.version; // the layers' data version: tiles carry it
    state.seq = state.config.seq;
    state.rule = state.config.colour_rule;
    el("colour-rule").value = state.rule;
    const levels = state.config.levels;
    el("level").innerHTML = levels
      .map((l) => `<option value="${escapeHtml(l)}">${escapeHtml(state.config.level_labels[l] || l)}</option>`)
      .join("");
    state.level = params.get("level") || levels[Math.min(1, levels.length - 1)];
    state.tiled = params.has("tiles") ? params.get("tiles") === "1" : Boolean(state.config.tiled);
    document.body.dataset.tiled = state.tiled ? "1" : "0";
    el("level").value = state.level;
    const top = await getJSON(`/api/grids?level=${encodeURIComponent(levels[0])}`);
    const bounds = L.geoJSON(top).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds);
    else map.setView([31.1, 121.2], 14);
    setBasemap(el("basemap").value, false);
    gridLayer.addTo(map);
    buildingLayer.addTo(map);
    checkpointLayer.addTo(map);
    const overlays = {};
    overlays[T("grids")] = gridLayer;
    overlays[T("buildings")] = buildingLayer;
    overlays[T("checkpoints")] = checkpointLayer;
    overlays[T("roads")] = baseRoads;
    overlays[T("deliveries")] = deliveryLayer;
    deliveryLayer.addTo(map);
    state.layersControl = L.control.layers(null, overlays, { collapsed: window.innerWidth < 700 }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    if (window.innerWidth < 700) el("panel").classList.add("collapsed");
    el("panel").querySelector("h2").addEventListener("click", () => el("panel").classList.toggle("collapsed"));
    renderBreadcrumb();
    await loadFeatures();
    await Promise.all([refreshLegend(), loadCheckpoints(), loadDeliveries()]);
    followViewport();
    connectLive();
    document.body.dataset.ready = "1";
    renderSymbols();
    el("draw-area").hidden = !may("cordon.read"); // drawing an area serves the cordon only
    document.dispatchEvent(new CustomEvent("msmap:ready"));
  }

  window.msMap = {
    state,
    map,
    drillInto,
    reload,
    showEntrances,
    showCordon,
    gridLayer,
    gridTiles,
    reconnect: () => connectLive(),
    checkStale,
    restyleGrids: () => {
      gridLayer.setStyle(gridStyle);
      gridTiles.repaint();
    },
    refreshLegend,
    getJSON,
    escapeHtml,
    T,
    gcj02: { fromWgs84: wgsToGcj, toWgs84: gcjToWgs },
  };
  start().catch((err) => {
    console.error(err);
    el("busy").hidden = false;
    el("busy").textContent = String(err);
  });
})();
