// Command map side panel: totals per status with the change since midnight and in the last
// hour, households and persons per 三区 class, a small chart of counts over time, the
// sortable and filterable table of the grids the map shows (a click zooms there), and the
// exports (wall map PDF/PNG at a paper size, offline HTML, XLSX). Totals and table follow
// every live change.
(function () {
  "use strict";

  const panel = { table: null, sortKey: "value", ascending: false, token: 0, timer: null };
  const el = (id) => document.getElementById(id);
  const ms = () => window.msMap;
  const T = (key) => ms().T(key);
  const esc = (text) => ms().escapeHtml(text);

  function codes() {
    return ms().state.config.scheme.codes;
  }
  function labelOf(c) {
    const lang = ms().state.config.lang;
    return (c.label && c.label[lang]) || c.code;
  }
  function signed(n) {
    if (n === null || n === undefined) return "<5";
    if (n === 0) return "0";
    return n > 0 ? `+${n}` : `−${-n}`;
  }
  function count(n) {
    return n === null || n === undefined ? "<5" : String(n);
  }

  // -- totals and chart -----------------------------------------------------------------
  async function loadTotals() {
    let data;
    try {
      data = await ms().getJSON("/api/totals");
    } catch (err) {
      console.warn("totals:", err);
      return;
    }
    const swatch = (colour) => `<span class="swatch" style="background:${colour}"></span>`;
    const rows = [
      `<tr><th></th><th>${esc(T("households"))}</th><th>${esc(T("persons"))}</th><th title="${esc(
        T("since_midnight")
      )}">${esc(T("today"))}</th><th title="${esc(T("last_hour"))}">${esc(T("hour"))}</th></tr>`,
    ];
    for (const c of codes()) {
      const hh = data.households[c.code];
      if (!hh && !data.since_midnight[c.code]) continue;
      const day = data.since_midnight[c.code] || 0;
      const hour = data.last_hour[c.code] || 0;
      rows.push(
        `<tr class="total-row" data-code="${esc(c.code)}"><td>${swatch(c.colour)}${esc(labelOf(c))}</td>` +
          `<td class="hh">${count(hh || 0)}</td><td>${count(data.persons[c.code] || 0)}</td>` +
          `<td class="day ${day > 0 ? "up" : day < 0 ? "down" : ""}">${signed(day)}</td>` +
          `<td class="hour ${hour > 0 ? "up" : hour < 0 ? "down" : ""}">${signed(hour)}</td></tr>`
      );
    }
    el("totals-table").innerHTML = rows.join("");
    const areaScheme = ms().state.config.area_scheme;
    const areaRows = (areaScheme.codes || [])
      .filter((c) => data.areas[c.code] && data.areas[c.code].households)
      .map(
        (c) =>
          `<tr class="area-row" data-code="${esc(c.code)}"><td>${swatch(c.colour)}${esc(labelOf(c))}</td><td>${count(
            data.areas[c.code].households
          )} ${esc(T("households"))}</td><td>${count(data.areas[c.code].persons)} ${esc(T("persons"))}</td></tr>`
      );
    el("area-totals").innerHTML = areaRows.join("");
    drawChart(data.series);
    document.body.dataset.totals = String(data.seq);
  }

  function drawChart(series) {
    const svg = el("trend");
    if (!series || series.length < 2) {
      svg.innerHTML = "";
      return;
    }
    // every status but the commonest (its scale would flatten the rest)
    const last = series[series.length - 1].households;
    const commonest = codes().reduce((a, c) => ((last[c.code] || 0) > (last[a.code] || 0) ? c : a), codes()[0]);
    const shownCodes = codes().filter((c) => c !== commonest);
    const width = 240;
    const height = 64;
    const top = Math.max(1, ...series.flatMap((p) => shownCodes.map((c) => p.households[c.code] || 0)));
    const x = (i) => (i / (series.length - 1)) * (width - 4) + 2;
    const y = (v) => height - 12 - (v / top) * (height - 18);
    const lines = shownCodes.map((c) => {
      const points = series.map((p, i) => `${x(i).toFixed(1)},${y(p.households[c.code] || 0).toFixed(1)}`);
      return `<polyline fill="none" stroke="${c.colour}" stroke-width="1.6" points="${points.join(" ")}"><title>${esc(labelOf(c))}</title></polyline>`;
    });
    const time = (iso) => new Date(iso).toLocaleTimeString(ms().state.config.lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
    svg.innerHTML =
      lines.join("") +
      `<text x="2" y="8" font-size="8">${top}</text>` +
      `<text x="2" y="${height - 1}" font-size="8">${esc(time(series[0].at))}</text>` +
      `<text x="${width - 2}" y="${height - 1}" font-size="8" text-anchor="end">${esc(time(series[series.length - 1].at))}</text>`;
  }

  // -- the grid table -------------------------------------------------------------------
  async function loadTable() {
    if (!window.msMeasure) return;
    const token = ++panel.token;
    let data;
    try {
      data = await ms().getJSON(`/api/table?${window.msMeasure.query()}`);
    } catch (err) {
      console.warn("table:", err);
      return;
    }
    if (token !== panel.token) return;
    panel.table = data;
    renderTable();
  }
  function sortValue(row) {
    const key = panel.sortKey;
    if (key === "name") return row.name || row.id;
    if (key === "value") return row.value === null ? -1 : row.value;
    if (key === "households" || key === "persons") return row[key] === null ? -1 : row[key];
    const n = (row.counts || {})[key.slice(5)];
    return n === null ? -1 : n || 0;
  }
  function renderTable() {
    const data = panel.table;
    if (!data) return;
    const only = el("table-filter").value;
    let rows = data.rows.filter((r) => !only || (r.counts || {})[only] === null || (r.counts || {})[only] > 0);
    const dir = panel.ascending ? 1 : -1;
    rows = rows.slice().sort((a, b) => {
      const va = sortValue(a);
      const vb = sortValue(b);
      if (typeof va === "string" || typeof vb === "string") return dir * String(va).localeCompare(String(vb), "zh");
      return dir * (va - vb) || String(a.id).localeCompare(String(b.id));
    });
    const key = panel.sortKey;
    const extra = key.startsWith("code:") ? key.slice(5) : null;
    const extraCode = extra && codes().find((c) => c.code === extra);
    const heads = [
      ["name", T("grid")],
      ["value", T("measure")],
      ["households", T("households_total")],
    ];
    if (extraCode) heads.push([key, labelOf(extraCode)]);
    const arrow = (k) => (k === key ? (panel.ascending ? " ▲" : " ▼") : "");
    const head = `<tr>${heads.map(([k, h]) => `<th data-key="${esc(k)}" tabindex="0">${esc(h)}${arrow(k)}</th>`).join("")}</tr>`;
    const body = rows.map((r) => {
      const cells = [
        `<td>${esc(r.name || r.id)}</td>`,
        `<td class="value">${window.msMeasure.shown(r.value)}</td>`,
        `<td class="hh">${count(r.households)}</td>`,
      ];
      if (extraCode) cells.push(`<td>${count((r.counts || {})[extra] === undefined ? 0 : r.counts[extra])}</td>`);
      return `<tr class="grid-row" data-id="${esc(r.id)}" tabindex="0">${cells.join("")}</tr>`;
    });
    el("grid-table").innerHTML = head + body.join("");
    el("table-count").textContent = `${rows.length} / ${data.rows.length}`;
    document.body.dataset.table = String(data.seq);
  }
  function fillControls() {
    const filter = el("table-filter");
    const sort = el("table-sort");
    for (const c of codes()) {
      filter.append(new Option(`${T("only_with")} ${labelOf(c)}`, c.code));
      sort.append(new Option(`${labelOf(c)} (${T("households")})`, `code:${c.code}`));
    }
    const worst = Math.max(...codes().map((c) => c.severity || 0));
    const red = codes().find((c) => (c.severity || 0) === worst);
    if (red) filter.querySelector(`option[value="${CSS.escape(red.code)}"]`).textContent = `${T("only_with")} ${labelOf(red)}`;
  }
  async function zoomTo(id) {
    const layer = ms().state.gridsById.get(id);
    if (layer) {
      window.msMeasure.zoomTo(id);
      return;
    }
    try {
      const geometry = await ms().getJSON(`/api/geometry/grid/${encodeURIComponent(id)}`);
      ms().map.fitBounds(L.geoJSON(geometry).getBounds(), { maxZoom: 18 });
    } catch (err) {
      console.warn("zoom:", err);
    }
  }

  // -- exports ----------------------------------------------------------------------------
  function exportLinks() {
    if (!window.msMeasure) return;
    const query = window.msMeasure.query();
    const paper = el("paper").value;
    el("export-pdf").href = `/api/print?${query}&format=pdf&paper=${paper}`;
    el("export-png").href = `/api/print?${query}&format=png&paper=${paper}`;
    el("export-html").href = `/api/export/map.html?${query}`;
    el("export-xlsx").href = `/api/table.xlsx?${query}`;
  }

  // -- following the map ------------------------------------------------------------------
  function soon() {
    // a burst of live changes costs one refresh; the first comes within 0.3 s
    if (panel.timer) return;
    panel.timer = setTimeout(() => {
      panel.timer = null;
      loadTotals();
      loadTable();
    }, 150);
  }

  document.addEventListener("msmap:ready", () => {
    fillControls();
    el("grid-table").addEventListener("click", (e) => {
      const th = e.target.closest("th[data-key]");
      if (th) {
        const key = th.dataset.key;
        panel.ascending = panel.sortKey === key ? !panel.ascending : key === "name";
        panel.sortKey = key;
        renderTable();
        return;
      }
      const row = e.target.closest("tr.grid-row");
      if (row) zoomTo(row.dataset.id);
    });
    el("grid-table").addEventListener("keydown", (e) => {
      if (e.key === "Enter") e.target.click();
    });
    el("table-filter").addEventListener("change", renderTable);
    el("table-sort").addEventListener("change", () => {
      panel.sortKey = el("table-sort").value;
      panel.ascending = false;
      renderTable();
    });
    el("paper").addEventListener("change", exportLinks);
    el("export-box").addEventListener("toggle", exportLinks);
    el("print").addEventListener("click", () => {
      exportLinks();
      el("export-box").open = true;
      el("export-box").scrollIntoView({ block: "nearest" });
    });
    loadTotals();
    loadTable(); // the first level drew before this page part was ready
    exportLinks();
    document.addEventListener("msmap:loaded", () => {
      loadTable();
      exportLinks();
    });
    document.addEventListener("msmeasure:changed", () => {
      loadTable();
      exportLinks();
    });
    document.addEventListener("msmap:changed", soon);
  });
})();
