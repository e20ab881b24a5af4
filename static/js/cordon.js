// The cordon panel of the command map: an area's entrances (staffed, closed, uncovered),
// the fewest staffed checkpoints and barriers that seal it, and the trade-off between
// posts and households as the ring moves outward. map.js gives it the map and its helpers.
(function () {
  "use strict";
  window.MSCordon = function ({ map, svg, state, el, T, escapeHtml, getJSON, postJSON, toDisplay, clearDrawnArea }) {
    const STATE_COLOURS = { staffed: "#1b9e77", closed: "#555555", uncovered: "#d62728" };
    const PLACEMENT_COLOURS = { staffed: "#1f4e9e", existing: "#1b9e77", barrier: "#111111" };
    const coverageLayer = L.geoJSON(null, {
      renderer: svg,
      // points keep their pointToLayer look (a style here would overwrite their fill)
      style: (f) =>
        f.geometry && f.geometry.type === "Point"
          ? {}
          : f.properties.feature === "area"
            ? { color: "#16324f", weight: 3, dashArray: "6 4", fill: false }
            : { color: "#1f4e9e", weight: 2, dashArray: "2 4", fillOpacity: 0.05 },
      pointToLayer: (f, latlng) => {
        const p = f.properties;
        const cut = p.feature === "cut";
        const colour = cut ? PLACEMENT_COLOURS[p.placement] : STATE_COLOURS[p.state];
        return L.circleMarker(latlng, {
          radius: cut && p.placement === "barrier" ? 5 : 8,
          color: "#fff",
          weight: 2,
          fillColor: colour,
          fillOpacity: 1,
        });
      },
      onEachFeature: (f, layer) => {
        const p = f.properties;
        if (p.feature === "area" || p.feature === "enclosed") return;
        const cut = p.feature === "cut";
        const what = cut ? T(p.placement) : T(p.state);
        const served = cut && state.exitLoads[p.checkpoint_id || p.edge_id];
        const load = served ? `<br>${T("served_households")}: ${served.households}` : "";
        layer.bindTooltip(`${escapeHtml(p.name || p.edge_id)} · ${escapeHtml(p.road_class)} · ${what}${load}`);
        layer.on("add", () => {
          const node = layer.getElement();
          if (!node) return;
          node.classList.add(cut ? "ms-cut" : "ms-entrance");
          node.dataset.state = cut ? p.placement : p.state;
        });
      },
    });
    state.exitLoads = {};
    function showCoveragePanel(title) {
      el("coverage").hidden = false;
      el("coverage-title").textContent = title;
      el("panel").classList.remove("collapsed");
    }
    function gridName(gridId) {
      const layer = state.gridsById.get(gridId);
      return layer ? layer.feature.properties.name : gridId;
    }
    function showCoverageError(err) {
      el("coverage").hidden = false;
      el("coverage-summary").innerHTML = `<p class="error" role="alert">${escapeHtml(err.message)}</p>`;
      el("tradeoff").innerHTML = "";
    }

    // An area is {grid: id} or {polygon: GeoJSON Polygon in EPSG:4326}; a bare string is a grid id.
    function asArea(area) {
      return typeof area === "string" ? { grid: area } : area;
    }
    function areaTitle(area) {
      return area.grid ? gridName(area.grid) : T("drawn_area");
    }
    function areaQuery(area) {
      return area.grid ? `grid=${encodeURIComponent(area.grid)}` : "polygon";
    }
    function fetchForArea(path, area, options) {
      if (area.grid) {
        const extra = Object.entries(options)
          .map(([k, v]) => `&${k}=${encodeURIComponent(v)}`)
          .join("");
        return getJSON(`${path}?${areaQuery(area)}${extra}`);
      }
      return postJSON(path, { polygon: area.polygon, ...options });
    }
    function renderCoverage() {
      coverageLayer.clearLayers();
      const data = state.coverageData;
      if (!data) return;
      if (data.area) coverageLayer.addData(toDisplay(data.area));
      coverageLayer.addData(toDisplay(data));
      coverageLayer.addTo(map);
    }
    function fitClearOfPanel() {
      // the analysed area and its result in view beside the panel, never under it
      const bounds = coverageLayer.getBounds();
      if (!bounds.isValid()) return;
      const box = el("panel").getBoundingClientRect();
      const frame = map.getContainer().getBoundingClientRect();
      const bottomPanel = box.width > frame.width * 0.6; // a phone: the panel is at the bottom
      const pad = bottomPanel
        ? { paddingTopLeft: [16, 16], paddingBottomRight: [16, frame.bottom - box.top + 16] }
        : { paddingTopLeft: [16, 16], paddingBottomRight: [frame.right - box.left + 16, 16] };
      map.fitBounds(bounds, { ...pad, maxZoom: 18, animate: false });
    }
    async function showEntrances(area) {
      try {
        await drawEntrances(asArea(area));
      } catch (err) {
        showCoverageError(err);
      }
    }
    async function showCordon(area, householdCost) {
      try {
        await drawCordon(asArea(area), householdCost);
      } catch (err) {
        showCoverageError(err);
      }
    }
    async function drawEntrances(area) {
      map.closePopup();
      state.coverageArea = area;
      const token = (state.coverageToken = (state.coverageToken || 0) + 1);
      const data = await fetchForArea("/api/entrances", area, {});
      if (token !== state.coverageToken) return; // a newer request superseded this one
      state.coverageData = data;
      renderCoverage();
      showCoveragePanel(`${areaTitle(area)} · ${T("entrances")} ${data.total}`);
      fitClearOfPanel();
      const c = data.counts;
      el("coverage-summary").innerHTML = ["staffed", "closed", "uncovered"]
        .map((k) => `<span class="state-${k}" data-state="${k}">● ${T(k)} ${c[k]}</span>`)
        .join(" &nbsp; ");
      el("coverage-summary").dataset.total = String(data.total);
      el("tradeoff").innerHTML = "";
    }
    async function drawCordon(area, householdCost) {
      map.closePopup();
      state.coverageArea = area;
      const outward = Number(el("outward").value) || 0;
      const keep = !el("replan").checked;
      const options = { max_outward_m: outward, keep_existing: keep };
      const query = `${areaQuery(area)}&max_outward_m=${outward}&keep_existing=${keep}`;
      const token = (state.coverageToken = (state.coverageToken || 0) + 1);
      const data = await fetchForArea(
        "/api/cordon",
        area,
        householdCost == null ? options : { ...options, household_cost: householdCost }
      );
      if (token !== state.coverageToken) return; // a newer request superseded this one
      state.exitLoads = Object.fromEntries(data.catchment.exits.map((e) => [e.exit_id, e]));
      state.coverageData = data;
      renderCoverage();
      const s = data.summary;
      showCoveragePanel(`${areaTitle(area)} · ${T("cordon")}`);
      el("coverage-summary").innerHTML =
        `<table class="legend"><tr><td>${T("staffed_points")}</td><td id="cordon-staffed">${s.staffed}</td></tr>` +
        `<tr><td>${T("staffed_now")}</td><td id="cordon-now">${data.checkpoints_now}</td></tr>` +
        `<tr><td>${T("barriers")}</td><td>${s.barriers}</td></tr>` +
        `<tr><td>${T("extra_households")}</td><td>${s.extra_households}</td></tr>` +
        `<tr><td>${T("persons_per_day")}</td><td>${data.rota.persons_per_day}</td></tr></table>`;
      el("tradeoff").innerHTML = "";
      if (outward > 0 && householdCost == null) {
        const curve = await fetchForArea("/api/cordon/tradeoff", area, options);
        if (token !== state.coverageToken) return;
        // each choice in staff and households: posts (new and kept), barriers, and the
        // households a wider ring encloses beyond the area
        el("tradeoff").innerHTML =
          `<caption>${T("tradeoff")}</caption><tr><th>${T("staffed_points")}</th><th>${T("new_posts")}</th><th>${T("barriers")}</th><th>${T("extra_households")}</th></tr>` +
          curve.points
            .map(
              (p) =>
                `<tr class="pick" data-cost="${p.household_cost}" tabindex="0" title="${escapeHtml(T("pick_plan"))}"><td class="posts">${p.staffed}</td><td class="new">${p.new_posts}</td><td class="barriers">${p.barriers}</td><td class="extra">${p.extra_households}</td></tr>`
            )
            .join("");
      }
      fitClearOfPanel();
      document.body.dataset.cordon = query;
    }
    el("tradeoff").addEventListener("click", (e) => {
      const row = e.target.closest("tr.pick");
      if (row && state.coverageArea) showCordon(state.coverageArea, Number(row.dataset.cost));
    });
    el("coverage-clear").addEventListener("click", () => {
      state.coverageData = null;
      state.coverageArea = null;
      renderCoverage();
      clearDrawnArea();
      el("coverage").hidden = true;
    });
    for (const id of ["outward", "replan"]) {
      el(id).addEventListener("change", () => {
        if (state.coverageArea) showCordon(state.coverageArea);
      });
    }

    return { STATE_COLOURS, PLACEMENT_COLOURS, showEntrances, showCordon, renderCoverage, showCoveragePanel };
  };
})();
