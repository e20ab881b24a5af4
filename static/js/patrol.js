// Patrol page: each team's walk in its own colour; repeated (deadhead) stretches dashed.
(function () {
  "use strict";
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
  const map = L.map("driver-map");
  const layer = L.geoJSON(window.MS_PATROL.geojson, {
    style: (f) => ({
      color: palette[((f.properties.team || 1) - 1) % palette.length],
      weight: f.properties.deadhead ? 3 : 5,
      dashArray: f.properties.deadhead ? "4 6" : null,
      opacity: 0.85,
    }),
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 7, color: "#222", fillColor: "#fff", fillOpacity: 1 }),
  }).addTo(map);
  if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [20, 20] });
  window.msDrawRoads(map, layer.getBounds());
})();
