// Routes page: start a delivery plan or a re-plan as a job, show progress, reload when done.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const bar = document.getElementById("plan-progress");
  const result = document.getElementById("plan-result");

  async function follow(jobId) {
    bar.hidden = false;
    result.textContent = window.MS_STRINGS.working;
    for (;;) {
      const job = await (await fetch(`/api/jobs/${jobId}`)).json();
      bar.value = job.progress || 0;
      if (job.state === "done") {
        location.reload();
        return;
      }
      if (job.state === "failed") {
        bar.hidden = true;
        result.textContent = `${window.MS_STRINGS.rejected}: ${job.error}`;
        result.className = "error";
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  async function start(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) {
      result.textContent = `${window.MS_STRINGS.rejected}: ${data.message}`;
      result.className = "error";
      return;
    }
    follow(data.job_id);
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
    const esc = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
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
  // a dispatcher names and deletes plans
  async function send(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : undefined,
    });
    return response;
  }
  for (const button of document.querySelectorAll("button.rename")) {
    button.addEventListener("click", async () => {
      const article = button.closest("article.plan");
      const name = article.querySelector("input.plan-rename").value.trim();
      const response = await send("POST", `/api/delivery/plans/${button.dataset.plan}/name`, { name });
      if (response.ok) article.querySelector(".plan-name").textContent = name;
      article.classList.toggle("error", !response.ok);
    });
  }
  for (const button of document.querySelectorAll("button.archive")) {
    button.addEventListener("click", async () => {
      const archived = button.dataset.archived === "true";
      const response = await send("POST", `/api/delivery/plans/${button.dataset.plan}/archive`, { archived });
      if (response.ok) location.reload();
    });
  }
  for (const button of document.querySelectorAll("button.delete")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(window.MS_STRINGS.confirm_delete.replace("{name}", button.dataset.name))) return;
      const response = await send("DELETE", `/api/delivery/plans/${button.dataset.plan}`);
      if (response.ok) button.closest("article.plan, li.archived-plan").remove();
    });
  }
  // a dispatcher assigns each route to a driver
  for (const select of document.querySelectorAll("select.assign-driver")) {
    select.addEventListener("change", async () => {
      const { plan, route } = select.dataset;
      const response = await fetch(`/api/delivery/plans/${plan}/routes/${route}/driver`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ driver: select.value || null }),
      });
      select.classList.toggle("error", !response.ok);
    });
  }
})();
