// Driver's phone page: the route on a map, stops in order, delivered / could-not-deliver buttons.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const info = window.MS_ROUTE;
  const map = L.map("driver-map");
  const colours = { delivered: "#2ca02c", failed: "#d62728", pending: "#1f4e9e" };
  const layer = L.geoJSON(info.geojson, {
    style: () => ({ color: "#1f4e9e", weight: 5, opacity: 0.8 }),
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 2, fillColor: colours.pending, fillOpacity: 1 })
        .bindTooltip(String(f.properties.seq || ""), { permanent: true, direction: "center", className: "stop-number" }),
  }).addTo(map);
  if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [20, 20] });
  window.msDrawRoads(map, layer.getBounds());
  const markers = {};
  layer.eachLayer((l) => {
    if (l.feature.properties.kind === "stop") markers[l.feature.properties.stop_id] = l;
  });
  function paint(item, state, reason) {
    item.dataset.state = state;
    item.className = `stop state-${state}`;
    item.querySelector(".state-label").textContent = window.MS_STRINGS[state] + (reason ? ` · ${reason}` : "");
    const marker = markers[item.dataset.stop];
    if (marker) marker.setStyle({ fillColor: colours[state] });
  }
  for (const item of document.querySelectorAll("li.stop")) paint(item, item.dataset.state, null);
  async function mark(item, state, reason) {
    item.classList.add("busy");
    try {
      const url = `/api/delivery/plans/${info.plan_id}/routes/${encodeURIComponent(info.route_id)}/stops/${encodeURIComponent(item.dataset.stop)}`;
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ state, reason }),
      });
      if (response.ok) paint(item, state, reason);
      else alert((await response.json()).message);
    } finally {
      item.classList.remove("busy");
    }
  }
  document.getElementById("stops").addEventListener("click", (e) => {
    const item = e.target.closest("li.stop");
    if (!item) return;
    if (e.target.classList.contains("mark-delivered")) mark(item, "delivered", null);
    if (e.target.classList.contains("mark-failed")) mark(item, "failed", item.querySelector("select.reason").value);
    if (e.target.closest(".stop-head")) {
      const marker = markers[item.dataset.stop];
      if (marker) map.setView(marker.getLatLng(), 17);
    }
  });
})();
