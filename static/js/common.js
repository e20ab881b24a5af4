// What every page shares: the CSRF-sending JSON request, following a long job to its end,
// and the page's translated strings (window.MS_STRINGS, filled from the translation table).
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  // A JSON request with the session's CSRF token; a refusal throws an Error carrying the
  // server's message, its status and its answer (issues, code).
  async function send(url, body, method = "POST") {
    const response = await fetch(url, {
      method,
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = {};
    }
    if (!response.ok) {
      const error = new Error(data.message || String(response.status));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  // Poll a job until it is done (its result) or failed (an Error with its reason in the
  // reader's words); onProgress gets 0..1 on the way.
  async function followJob(jobId, onProgress = () => {}, everyMs = 400) {
    for (;;) {
      const job = await (await fetch(`/api/jobs/${encodeURIComponent(jobId)}`)).json();
      onProgress(job.progress || 0);
      if (job.state === "done") return job.result;
      if (job.state === "failed") throw new Error(job.error || job.message || "failed");
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }

  // A translated string of this page, or the key itself when the page did not ask for it.
  const t = (key) => (window.MS_STRINGS && window.MS_STRINGS[key]) || key;
  const escapeHtml = (text) =>
    String(text == null ? "" : text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  window.MS = { csrf, send, followJob, t, escapeHtml };
})();
