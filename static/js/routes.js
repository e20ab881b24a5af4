// Routes page: start a delivery plan or a re-plan as a job, show progress, reload when done.
(function () {
  "use strict";
  const bar = document.getElementById("plan-progress");
  const result = document.getElementById("plan-result");

  function refused(message) {
    bar.hidden = true;
    result.textContent = `${window.MS.t("rejected")}: ${message}`;
    result.className = "error";
  }
  // start a plan or a re-plan as a job and follow it; the page reloads with the new plan
  async function start(url, body) {
    bar.hidden = false;
    result.textContent = window.MS.t("working");
    try {
      const { job_id: jobId } = await window.MS.send(url, body);
      await window.MS.followJob(jobId, (fraction) => { bar.value = fraction; }, 500);
      location.reload();
    } catch (err) {
      refused(err.message);
    }
  }
  const form = document.getElementById("new-plan");
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const body = {
        run: f.get("run"),
        vans: Number(f.get("vans")),
        tricycles: Number(f.get("tricycles")),
        time_limit_s: Number(f.get("time_limit_s")),
        statuses: f.getAll("statuses"),
        area_classes: f.getAll("area_classes"),
        balanced: f.get("balanced") === "on",
      };
      const name = String(f.get("name") || "").trim();
      if (name) body.name = name;
      start("/api/delivery/plans", body);
    });
  }
  for (const button of document.querySelectorAll("button.replan")) {
    button.addEventListener("click", () => start(`/api/delivery/plans/${button.dataset.plan}/replan`, {}));
  }
  // the overview: every route of a plan on one map, one colour per route, with a legend
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  const overviewEl = document.getElementById("overview-map");
  let overview = null;
  let overviewLayer = null;
  async function showOverview(planId) {
    if (!overviewEl) return;
    const data = await (await fetch(`/api/delivery/plans/${encodeURIComponent(planId)}`)).json();
    const colour = {};
    data.plan.routes.forEach((r, i) => {
      colour[r.route_id] = PALETTE[i % PALETTE.length];
    });
    if (!overview) overview = L.map(overviewEl);
    if (overviewLayer) overviewLayer.remove();
    overviewLayer = L.geoJSON(data.geojson, {
      style: (f) => ({ color: colour[f.properties.route_id] || "#555", weight: 4, opacity: 0.85 }),
      pointToLayer: (f, latlng) =>
        L.circleMarker(latlng, { radius: 5, color: "#fff", weight: 1, fillColor: colour[f.properties.route_id] || "#555", fillOpacity: 1 }),
    }).addTo(overview);
    const bounds = overviewLayer.getBounds();
    if (bounds.isValid()) {
      overview.fitBounds(bounds, { padding: [10, 10] });
      if (!overviewEl.dataset.roads) {
        window.msDrawRoads(overview, bounds);
        overviewEl.dataset.roads = "1";
      }
    }
    const esc = window.MS.escapeHtml;
    document.getElementById("overview-name").textContent = data.name;
    document.getElementById("overview-legend").innerHTML = data.plan.routes
      .filter((r) => r.stops.length)
      .map(
        (r) =>
          `<tr class="overview-route" data-route="${esc(r.route_id)}"><td><span class="swatch" style="background:${colour[r.route_id]}"></span>${esc(r.route_id)}</td>` +
          `<td>${r.stops.length} ${esc(window.MS_STRINGS.stops)}</td><td>${(r.distance_m / 1000).toFixed(1)} ${esc(window.MS_STRINGS.km)}</td>` +
          `<td>${Math.round(r.duration_s / 60)} ${esc(window.MS_STRINGS.minutes)}</td></tr>`
      )
      .join("");
    overviewEl.dataset.plan = planId;
  }
  for (const button of document.querySelectorAll("button.show-overview")) {
    button.addEventListener("click", () => showOverview(button.dataset.plan));
  }
  const newest = document.querySelector("article.plan");
  if (newest) showOverview(newest.dataset.plan);
  // a dispatcher names and deletes plans; true when the server took the change
  async function send(method, url, body) {
    try {
      await window.MS.send(url, body, method);
      return true;
    } catch (err) {
      return false;
    }
  }
  for (const button of document.querySelectorAll("button.rename")) {
    button.addEventListener("click", async () => {
      const article = button.closest("article.plan");
      const name = article.querySelector("input.plan-rename").value.trim();
      const ok = await send("POST", `/api/delivery/plans/${button.dataset.plan}/name`, { name });
      if (ok) article.querySelector(".plan-name").textContent = name;
      article.classList.toggle("error", !ok);
    });
  }
  for (const button of document.querySelectorAll("button.archive")) {
    button.addEventListener("click", async () => {
      const archived = button.dataset.archived === "true";
      if (await send("POST", `/api/delivery/plans/${button.dataset.plan}/archive`, { archived })) location.reload();
    });
  }
  for (const button of document.querySelectorAll("button.delete")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(window.MS_STRINGS.confirm_delete.replace("{name}", button.dataset.name))) return;
      if (await send("DELETE", `/api/delivery/plans/${button.dataset.plan}`)) button.closest("article.plan, li.archived-plan").remove();
    });
  }
  // a dispatcher assigns each route to a driver
  for (const select of document.querySelectorAll("select.assign-driver")) {
    select.addEventListener("change", async () => {
      const { plan, route } = select.dataset;
      const ok = await send("POST", `/api/delivery/plans/${plan}/routes/${route}/driver`, { driver: select.value || null });
      select.classList.toggle("error", !ok);
    });
  }
})();
