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
  for (const button of document.querySelectorAll("button.delete")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(window.MS_STRINGS.confirm_delete.replace("{name}", button.dataset.name))) return;
      const response = await send("DELETE", `/api/delivery/plans/${button.dataset.plan}`);
      if (response.ok) button.closest("article.plan").remove();
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
