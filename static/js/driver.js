// Driver's phone page: the route on a map with each stop's number beside its marker (never
// over its delivered/failed colour; stops at one place share a marker), the stops in order
// with navigation in Gaode or Baidu and a call button, delivered / could-not-deliver /
// undo, progress (12/37 已送达) and the driver's own position.
(function () {
  "use strict";
  const csrf = window.MS.csrf;
  const info = window.MS_ROUTE;
  const S = window.MS_STRINGS;
  const map = L.map("driver-map");
  const colours = { delivered: "#2ca02c", failed: "#d62728", pending: "#1f4e9e" };
  const legs = L.geoJSON(
    { type: "FeatureCollection", features: info.geojson.features.filter((f) => f.geometry.type !== "Point") },
    { style: () => ({ color: "#1f4e9e", weight: 5, opacity: 0.8 }) }
  ).addTo(map);
  // stops at one place share one marker; its label lists their numbers beside it
  const places = new Map();
  for (const f of info.geojson.features) {
    if (f.geometry.type !== "Point" || f.properties.kind !== "stop") continue;
    const key = f.geometry.coordinates.map((v) => v.toFixed(6)).join(",");
    if (!places.has(key)) places.set(key, { latlng: L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]), stops: [] });
    places.get(key).stops.push(f.properties);
  }
  // the view first: a marker's permanent label needs a map with a view to sit on
  const bounds = legs.getBounds();
  for (const place of places.values()) bounds.extend(place.latlng);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else map.setView([31.2, 121.5], 12);
  const markers = {}; // stop id -> its place's marker
  const placeOf = {};
  for (const place of places.values()) {
    const marker = L.circleMarker(place.latlng, { radius: 9, color: "#fff", weight: 2, fillColor: colours.pending, fillOpacity: 1 })
      .bindTooltip(place.stops.map((s) => s.seq).join("·"), {
        permanent: true,
        direction: "right",
        offset: [10, 0],
        className: "stop-number",
      })
      .addTo(map);
    for (const s of place.stops) {
      markers[s.stop_id] = marker;
      placeOf[s.stop_id] = place;
    }
  }
  window.msDrawRoads(map, bounds);

  const items = () => Array.from(document.querySelectorAll("li.stop"));
  function progress() {
    const all = items();
    const done = all.filter((i) => i.dataset.state === "delivered").length;
    document.getElementById("progress").textContent = S.progress.replace("{done}", done).replace("{total}", all.length);
    document.body.dataset.delivered = String(done);
  }
  function placeColour(stopId) {
    // a shared marker shows the least finished of its stops: pending, then failed
    const states = placeOf[stopId].stops.map((s) => document.querySelector(`li.stop[data-stop="${CSS.escape(s.stop_id)}"]`).dataset.state);
    return states.includes("pending") ? colours.pending : states.includes("failed") ? colours.failed : colours.delivered;
  }
  function paint(item, state, reason) {
    item.dataset.state = state;
    item.className = `stop state-${state}`;
    item.querySelector(".state-label").textContent = S[state] + (reason ? ` · ${reason}` : "");
    item.querySelector(".mark-undo").hidden = state === "pending";
    const marker = markers[item.dataset.stop];
    if (marker) marker.setStyle({ fillColor: placeColour(item.dataset.stop) });
    progress();
  }
  for (const item of items()) paint(item, item.dataset.state, null);
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
      else item.querySelector(".state-label").textContent = S.refused;
    } catch (err) {
      item.querySelector(".state-label").textContent = S.refused;
    } finally {
      item.classList.remove("busy");
    }
  }
  document.getElementById("stops").addEventListener("click", (e) => {
    const item = e.target.closest("li.stop");
    if (!item) return;
    if (e.target.classList.contains("mark-delivered")) mark(item, "delivered", null);
    if (e.target.classList.contains("mark-failed")) mark(item, "failed", item.querySelector("select.reason").value);
    if (e.target.classList.contains("mark-undo")) mark(item, "pending", null);
    if (e.target.closest(".stop-head")) {
      const marker = markers[item.dataset.stop];
      if (marker) map.setView(marker.getLatLng(), 17);
    }
  });

  // the driver's own position (the phone's; asked for once the button is tapped)
  let me = null;
  document.getElementById("locate").addEventListener("click", () => {
    if (!navigator.geolocation) {
      document.getElementById("locate").textContent = S.no_position;
      return;
    }
    navigator.geolocation.watchPosition(
      (p) => {
        const at = L.latLng(p.coords.latitude, p.coords.longitude);
        if (!me) {
          me = L.circleMarker(at, { radius: 8, color: "#fff", weight: 3, fillColor: "#00a0e9", fillOpacity: 1 })
            .bindTooltip(S.here)
            .addTo(map);
          map.setView(at, Math.max(map.getZoom(), 16));
        } else {
          me.setLatLng(at);
        }
        document.body.dataset.located = "1";
      },
      () => {
        document.getElementById("locate").textContent = S.no_position;
      },
      { enableHighAccuracy: true, maximumAge: 10000 }
    );
  });
  window.msDriver = { markers, places };
})();
