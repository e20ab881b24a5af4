// Patrol page: each team's walk in its own colour (the list's swatches are the legend) with
// arrows showing the direction; repeated (deadhead) stretches dashed; checkpoints by name;
// a patrol checks in at a checkpoint and the page shows who passed when.
(function () {
  "use strict";
  const info = window.MS_PATROL;
  const palette = info.palette;
  const csrf = window.MS.csrf;
  const map = L.map("driver-map");
  const colourOf = (team) => palette[((team || 1) - 1) % palette.length];
  const layer = L.geoJSON(info.geojson, {
    style: (f) => ({
      color: colourOf(f.properties.team),
      weight: f.properties.deadhead ? 3 : 5,
      dashArray: f.properties.deadhead ? "4 6" : null,
      opacity: 0.85,
    }),
    pointToLayer: (f, latlng) => {
      const id = f.properties.checkpoint_id || f.properties.node_id || "";
      const marker = L.circleMarker(latlng, { radius: 7, color: "#222", fillColor: "#fff", fillOpacity: 1 });
      const name = info.names[id];
      return name ? marker.bindTooltip(name) : marker;
    },
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  window.msDrawRoads(map, bounds);

  // direction: an arrow at the middle of each stretch, pointing the way the team walks
  function bearing(a, b) {
    const p1 = map.latLngToLayerPoint(a);
    const p2 = map.latLngToLayerPoint(b);
    return (Math.atan2(p2.y - p1.y, p2.x - p1.x) * 180) / Math.PI;
  }
  const arrows = L.layerGroup().addTo(map);
  function drawArrows() {
    arrows.clearLayers();
    layer.eachLayer((l) => {
      if (!l.getLatLngs || l.feature.properties.deadhead) return;
      const points = l.getLatLngs().flat(Infinity);
      if (points.length < 2) return;
      const k = Math.floor((points.length - 1) / 2);
      const a = points[k];
      const b = points[k + 1];
      const at = L.latLng((a.lat + b.lat) / 2, (a.lng + b.lng) / 2);
      const html = `<span class="patrol-arrow" style="color:${colourOf(l.feature.properties.team)};transform:rotate(${bearing(a, b)}deg)">➤</span>`;
      arrows.addLayer(L.marker(at, { icon: L.divIcon({ className: "patrol-arrow-icon", html, iconSize: [16, 16] }), interactive: false, keyboard: false }));
    });
    document.body.dataset.arrows = String(arrows.getLayers().length);
  }
  drawArrows();
  map.on("zoomend", drawArrows);

  // check-in: who passed this checkpoint when
  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button.checkin");
    if (!button) return;
    button.disabled = true;
    try {
      const response = await fetch(`/api/patrol/plans/${encodeURIComponent(info.plan_id)}/checkins`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ checkpoint: button.dataset.checkpoint }),
      });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      for (const [cp, seen] of Object.entries(data.checkins)) {
        const time = new Date(seen.last_at).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
        for (const small of document.querySelectorAll(`li.checkpoint[data-checkpoint="${CSS.escape(cp)}"] .cp-seen`)) {
          small.textContent = `${info.strings.last_pass} ${time} · ${seen.last_by} · ${seen.passes} ${info.strings.passes}`;
        }
        const cell = document.querySelector(`#revisit tr[data-checkpoint="${CSS.escape(cp)}"] td.observed`);
        if (cell) cell.textContent = seen.observed_minutes === null ? "—" : String(seen.observed_minutes);
      }
    } catch (err) {
      button.textContent = info.strings.refused;
    } finally {
      button.disabled = false;
    }
  });
})();
