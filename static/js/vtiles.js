// Vector tiles for the command map: a small Mapbox Vector Tile reader and a Leaflet canvas
// layer that draws a layer's shapes from /api/tiles and fills them with colours the map
// gives per feature (from the compact status tables), so a change repaints, never refetches.
(function () {
  "use strict";

  // -- protocol buffers (the parts MVT uses) ----------------------------------------------
  const utf8 = new TextDecoder("utf-8");

  function varint(r) {
    let result = 0;
    let scale = 1;
    let byte;
    do {
      byte = r.buf[r.pos++];
      result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    return result;
  }
  function zigzag(n) {
    return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
  }
  function skip(r, wire) {
    if (wire === 0) varint(r);
    else if (wire === 1) r.pos += 8;
    else if (wire === 2) {
      const length = varint(r);
      r.pos += length;
    }
    else if (wire === 5) r.pos += 4;
    else throw new Error(`unknown protobuf wire type ${wire}`);
  }
  function fields(r, end, onField) {
    while (r.pos < end) {
      const key = varint(r);
      const start = r.pos;
      if (onField(Math.floor(key / 8), key & 7) === false || r.pos === start) {
        r.pos = start;
        skip(r, key & 7);
      }
    }
  }
  function packed(r) {
    const end = varint(r) + r.pos;
    const out = [];
    while (r.pos < end) out.push(varint(r));
    return out;
  }
  function bytes(r) {
    const n = varint(r);
    const view = r.buf.subarray(r.pos, r.pos + n);
    r.pos += n;
    return view;
  }

  function readValue(r) {
    const end = varint(r) + r.pos;
    let value = null;
    fields(r, end, (field) => {
      const data = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos);
      if (field === 1) value = utf8.decode(bytes(r));
      else if (field === 2) (value = data.getFloat32(0, true)), (r.pos += 4);
      else if (field === 3) (value = data.getFloat64(0, true)), (r.pos += 8);
      else if (field === 4 || field === 5) value = varint(r);
      else if (field === 6) value = zigzag(varint(r));
      else if (field === 7) value = varint(r) === 1;
      else return false;
      return true;
    });
    return value;
  }

  // geometry commands to rings (polygons) or lines of [x, y] in tile units
  function rings(commands) {
    const out = [];
    let ring = null;
    let x = 0;
    let y = 0;
    for (let i = 0; i < commands.length; ) {
      const command = commands[i] & 7;
      const count = commands[i] >> 3;
      i += 1;
      if (command === 7) {
        if (ring) ring.closed = true;
        continue;
      }
      for (let k = 0; k < count; k++) {
        x += zigzag(commands[i++]);
        y += zigzag(commands[i++]);
        if (command === 1) out.push((ring = [[x, y]]));
        else ring.push([x, y]);
      }
    }
    return out;
  }

  function readFeature(r, keys, values) {
    const end = varint(r) + r.pos;
    const feature = { id: null, type: 0, props: {}, geometry: [] };
    fields(r, end, (field) => {
      if (field === 1) feature.id = varint(r);
      else if (field === 2) {
        const tags = packed(r);
        for (let i = 0; i + 1 < tags.length; i += 2) feature.props[keys[tags[i]]] = values[tags[i + 1]];
      } else if (field === 3) feature.type = varint(r);
      else if (field === 4) feature.geometry = rings(packed(r));
      else return false;
      return true;
    });
    return feature;
  }

  function readLayer(r) {
    const end = varint(r) + r.pos;
    const layer = { name: "", extent: 4096, features: [] };
    const keys = [];
    const values = [];
    const raw = [];
    fields(r, end, (field) => {
      if (field === 1) layer.name = utf8.decode(bytes(r));
      else if (field === 2) raw.push(r.pos), skip(r, 2);
      else if (field === 3) keys.push(utf8.decode(bytes(r)));
      else if (field === 4) values.push(readValue(r));
      else if (field === 5) layer.extent = varint(r);
      else return false;
      return true;
    });
    const after = r.pos;
    for (const at of raw) {
      r.pos = at;
      layer.features.push(readFeature(r, keys, values));
    }
    r.pos = after;
    return layer;
  }

  /** Layer name -> {extent, features: [{id, type, props, geometry}]} of an encoded tile. */
  function decodeTile(buffer) {
    const r = { buf: new Uint8Array(buffer), pos: 0 };
    const layers = {};
    fields(r, r.buf.length, (field) => {
      if (field !== 3) return false;
      const layer = readLayer(r);
      layers[layer.name] = layer;
      return true;
    });
    return layers;
  }

  function inside(point, ring) {
    let hit = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi > point[1] !== yj > point[1] && point[0] < ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }

  // -- the Leaflet layer --------------------------------------------------------------------
  const VectorGrid = L.GridLayer.extend({
    options: {
      layer: "grids",
      query: "",
      fill: () => "#cccccc",
      fillOpacity: 0.55,
      stroke: "#333333",
      weight: 1.2,
      maxNativeZoom: 22,
    },

    url(coords) {
      const query = this.options.query ? `?${this.options.query}` : "";
      return `/api/tiles/${this.options.layer}/${coords.z}/${coords.x}/${coords.y}.pbf${query}`;
    },

    createTile(coords, done) {
      const canvas = L.DomUtil.create("canvas", "ms-vtile");
      const size = this.getTileSize();
      const ratio = window.devicePixelRatio || 1;
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
      fetch(this.url(coords), { credentials: "same-origin" })
        .then((response) => (response.ok ? response.arrayBuffer() : Promise.reject(new Error(String(response.status)))))
        .then((buffer) => {
          const layer = decodeTile(buffer)[this.options.layer] || { extent: 4096, features: [] };
          canvas.msTile = { layer, coords };
          this._paint(canvas);
          done(null, canvas);
        })
        .catch((err) => done(err, canvas));
      return canvas;
    },

    _paint(canvas) {
      const { layer } = canvas.msTile;
      const ctx = canvas.getContext("2d");
      const scale = canvas.width / layer.extent;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(scale, 0, 0, scale, 0, 0);
      ctx.lineWidth = (this.options.weight * (window.devicePixelRatio || 1)) / scale;
      ctx.strokeStyle = this.options.stroke;
      for (const feature of layer.features) {
        ctx.beginPath();
        for (const ring of feature.geometry) {
          ring.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          if (feature.type === 3) ctx.closePath();
        }
        if (feature.type === 3) {
          const colour = this.options.fill(feature.props);
          if (colour) {
            ctx.globalAlpha = this.options.fillOpacity;
            ctx.fillStyle = colour;
            ctx.fill("evenodd");
            ctx.globalAlpha = 1;
          }
        }
        ctx.stroke();
      }
    },

    /** Repaint the tiles holding any of ``ids`` (a Set of feature ids; none: every tile). */
    repaint(ids) {
      for (const key in this._tiles) {
        const canvas = this._tiles[key].el;
        if (!canvas.msTile) continue;
        if (!ids || canvas.msTile.layer.features.some((f) => ids.has(f.props.id))) this._paint(canvas);
      }
    },

    /** The properties of the polygon drawn at a point, or null. */
    featureAt(latlng) {
      if (!this._map || this._tileZoom === undefined) return null;
      const size = this.getTileSize();
      const point = this._map.project(latlng, this._tileZoom);
      const coords = L.point(Math.floor(point.x / size.x), Math.floor(point.y / size.y));
      coords.z = this._tileZoom;
      const tile = this._tiles[this._tileCoordsToKey(coords)];
      if (!tile || !tile.el.msTile) return null;
      const { layer } = tile.el.msTile;
      const local = [
        ((point.x - coords.x * size.x) * layer.extent) / size.x,
        ((point.y - coords.y * size.y) * layer.extent) / size.y,
      ];
      for (let i = layer.features.length - 1; i >= 0; i--) {
        const feature = layer.features[i];
        if (feature.type !== 3) continue;
        let count = 0;
        for (const ring of feature.geometry) if (inside(local, ring)) count += 1;
        if (count % 2 === 1) return feature.props;
      }
      return null;
    },
  });

  window.MSVectorTiles = { decodeTile, VectorGrid };
})();
