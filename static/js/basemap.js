// Our own roads as the base layer of route pages (no tiles needed, works offline).
window.msDrawRoads = async function (map, bounds) {
  "use strict";
  if (!bounds.isValid()) return;
  const b = bounds.pad(0.3);
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  const response = await fetch(`/api/roads?bbox=${bbox}`);
  if (!response.ok) return;
  const roads = L.geoJSON(await response.json(), {
    interactive: false,
    style: (f) => ({
      color: f.properties.road_class === "main" ? "#9aa0a8" : "#c3c8cf",
      weight: f.properties.road_class === "main" ? 4 : 2,
    }),
  }).addTo(map);
  roads.bringToBack();
};
