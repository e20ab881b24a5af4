// Upload page: send status tables or layer files; show every rejected row with its reason.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  const esc = (text) => String(text == null ? "" : text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function showResult(box, ok, data) {
    box.className = `result ${ok ? "ok" : "error"}`;
    if (ok) {
      box.textContent = `${window.MS_STRINGS.accepted}: ${JSON.stringify(data.imported || { rows: data.applied })}`;
      return;
    }
    const issues = (data.issues || [])
      .map((i) => `<li>${esc([i.file, i.row != null ? `row ${i.row}` : "", i.field ? `'${i.field}'` : ""].filter(Boolean).join(" "))}: ${esc(i.reason)}</li>`)
      .join("");
    box.innerHTML = `<strong>${window.MS_STRINGS.rejected}</strong><ul class="issues">${issues || `<li>${esc(data.message)}</li>`}</ul>`;
  }

  for (const form of document.querySelectorAll("form[data-url]")) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const box = form.querySelector(".result");
      const body = new FormData();
      for (const input of form.querySelectorAll("input[type=file]")) {
        Array.from(input.files).forEach((file, i) => body.append(input.multiple ? `file${i}` : "file", file));
      }
      for (const field of form.querySelectorAll("select, input[type=checkbox]:checked")) body.append(field.name, field.value);
      form.classList.add("busy");
      try {
        const response = await fetch(form.dataset.url, { method: "POST", body, headers: { "X-CSRF-Token": csrf } });
        showResult(box, response.ok, await response.json());
      } finally {
        form.classList.remove("busy");
      }
    });
  }
})();
