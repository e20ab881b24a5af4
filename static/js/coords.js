// Coordinate shifts for Chinese basemaps: GCJ-02 (Gaode) from and to WGS84, mirroring
// mapserver/crs.py (the server converts answers itself with ?coords=gcj02; the map shifts
// what it draws by hand, such as a drawn area, with these).
(function () {
  "use strict";
  const GCJ_A = 6378245.0; // Krasovsky 1940 semi-major axis, m
  const GCJ_EE = 0.00669342162296594323; // Krasovsky 1940 first eccentricity squared
  function gcjOffset(lon, lat) {
    const x = lon - 105.0;
    const y = lat - 35.0;
    const PI = Math.PI;
    const common = ((20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2) / 3;
    let dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + common;
    dlat += ((20 * Math.sin(y * PI) + 40 * Math.sin((y / 3) * PI)) * 2) / 3;
    dlat += ((160 * Math.sin((y / 12) * PI) + 320 * Math.sin((y * PI) / 30)) * 2) / 3;
    let dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + common;
    dlon += ((20 * Math.sin(x * PI) + 40 * Math.sin((x / 3) * PI)) * 2) / 3;
    dlon += ((150 * Math.sin((x / 12) * PI) + 300 * Math.sin((x / 30) * PI)) * 2) / 3;
    const radlat = (lat / 180) * PI;
    const magic = 1 - GCJ_EE * Math.sin(radlat) ** 2;
    const sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180) / (((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtmagic)) * PI);
    dlon = (dlon * 180) / ((GCJ_A / sqrtmagic) * Math.cos(radlat) * PI);
    return [dlon, dlat];
  }
  function wgsToGcj([lon, lat]) {
    if (!(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271)) return [lon, lat];
    const [dlon, dlat] = gcjOffset(lon, lat);
    return [lon + dlon, lat + dlat];
  }
  function gcjToWgs([lon, lat]) {
    // Fixed-point iteration on the forward shift, to 1e-9 degrees (about 0.1 mm).
    let x = lon;
    let y = lat;
    for (let i = 0; i < 30; i += 1) {
      const [fx, fy] = wgsToGcj([x, y]);
      const ex = fx - lon;
      const ey = fy - lat;
      x -= ex;
      y -= ey;
      if (Math.abs(ex) < 1e-9 && Math.abs(ey) < 1e-9) break;
    }
    return [x, y];
  }

  window.MSCoords = { wgsToGcj, gcjToWgs };
})();
