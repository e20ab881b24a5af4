// Upload page: status tables, and layer files with a mapping step, a check (dry run) and a
// confirmation before a replace deletes stored rows. Every rejected row is shown with its reason.
(function () {
  "use strict";
  const csrf = window.MS.csrf;
  const S = window.MS_STRINGS;
  const LEVELS = window.MS_LEVELS;
  const LAYERS = ["grids", "buildings", "households", "status", "checkpoints", "roads"];

  const esc = window.MS.escapeHtml;
  const label = (key) => S[key] || key;
  const layerLabel = (layer) => S[`layer_${layer}`] || layer;

  function reasonOf(i) {
    // a known kind of problem in the reader's words, with the allowed values as labels
    const words = i.code && S[`reason_${i.code}`];
    if (!words) return i.reason;
    return words.replace("{value}", i.value == null ? "" : i.value).replace("{allowed}", S.status_labels || "");
  }
  function issuesHtml(data) {
    const issues = (data.issues || [])
      .map((i) => {
        const where = [
          i.file ? `${label("imp_file")} ${i.file}` : "",
          // the line as the spreadsheet shows it (the header is line 1)
          i.line != null ? label("imp_line").replace("{n}", i.line) : i.row != null ? `${label("imp_row")} ${i.row}` : "",
          i.field ? `${label("imp_field")} ${S[`field_${i.field}`] || i.field}` : "",
        ].filter(Boolean).join(" · ");
        return `<li data-file="${esc(i.file)}" data-row="${esc(i.row)}" data-field="${esc(i.field)}">`
          + `${esc(where)}: ${esc(reasonOf(i))}</li>`;
      })
      .join("");
    return `<strong>${esc(label("rejected"))}</strong>`
      + `<ul class="issues">${issues || `<li>${esc(data.message || data.error || "")}</li>`}</ul>`;
  }

  async function post(url, body) {
    const response = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf } });
    let data;
    try {
      data = await response.json();
    } catch (err) {
      data = { message: `HTTP ${response.status}` };
    }
    return { ok: response.ok, data };
  }

  // --- status tables: one file, all rows or none --------------------------------------------
  const statusForm = document.getElementById("status-upload");
  statusForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = statusForm.querySelector(".result");
    const body = new FormData();
    body.append("file", statusForm.querySelector("input[type=file]").files[0]);
    statusForm.classList.add("busy");
    try {
      const { ok, data } = await post(statusForm.dataset.url, body);
      box.className = `result ${ok ? "ok" : "error"}`;
      if (ok) box.textContent = label("status_written").replace("{n}", data.applied);
      else box.innerHTML = issuesHtml(data);
    } finally {
      statusForm.classList.remove("busy");
    }
  });

  // --- event points: one case/report list, rows without coordinates listed ------------------
  const eventsForm = document.getElementById("events-upload");
  eventsForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = eventsForm.querySelector(".result");
    const body = new FormData(eventsForm);
    eventsForm.classList.add("busy");
    try {
      const { ok, data } = await post(eventsForm.dataset.url, body);
      box.className = `result ${ok ? "ok" : "error"}`;
      if (!ok) {
        box.innerHTML = issuesHtml(data);
        return;
      }
      const c = data.counts;
      const lines = [
        `${label("events_total")}: ${c.total}`,
        `${label("events_joined")}: ${c.joined}`,
        `${label("events_outside")}: ${c.outside}`,
        `${label("events_no_building")}: ${c.no_building}`,
        `${label("events_skipped")}: ${c.skipped_rows}`,
      ];
      const skipped = (data.issues || [])
        .slice(0, 20)
        .map((i) => `<li>${esc(i.line != null ? label("imp_line").replace("{n}", i.line) : `${label("imp_row")} ${i.row}`)}: ${esc(i.reason)}</li>`)
        .join("");
      box.innerHTML = `<strong>${esc(label("accepted"))}</strong><ul>${lines
        .map((l) => `<li>${esc(l)}</li>`)
        .join("")}</ul>${skipped ? `<ul class="issues">${skipped}</ul>` : ""}`;
    } finally {
      eventsForm.classList.remove("busy");
    }
  });

  // --- layer files: preview, map, check, import ----------------------------------------------
  const section = document.getElementById("layer-import");
  const list = document.getElementById("import-list");
  const result = document.getElementById("import-result");
  const runButton = document.getElementById("import-run");
  const checkButton = document.getElementById("import-check");
  const encoding = document.getElementById("import-encoding");
  const crs = document.getElementById("import-crs");
  const crsCustom = document.getElementById("import-crs-custom");
  const replace = document.getElementById("import-replace");
  const dialog = document.getElementById("import-confirm");
  const entries = [];
  let counter = 0;

  function invalidateCheck() {
    runButton.disabled = true;
    section.dataset.checked = "";
  }
  section.addEventListener("change", invalidateCheck);
  section.addEventListener("input", invalidateCheck);

  crs.addEventListener("change", () => {
    crsCustom.hidden = crs.value !== "other";
  });
  encoding.addEventListener("change", () => entries.forEach((entry) => preview(entry)));

  document.getElementById("import-files").addEventListener("change", (e) => {
    for (const file of Array.from(e.target.files)) {
      const entry = { key: `f${counter++}`, file, layer: null, data: null, error: null };
      entry.node = document.createElement("div");
      entry.node.className = "import-file";
      entry.node.dataset.key = entry.key;
      entry.node.dataset.name = file.name;
      list.appendChild(entry.node);
      entries.push(entry);
      preview(entry);
    }
    e.target.value = "";
    renderSaveHints();
  });

  async function preview(entry, { reset = false } = {}) {
    const body = new FormData();
    body.append("file", entry.file);
    if (entry.layer) body.append("layer", entry.layer);
    if (encoding.value) body.append("encoding", encoding.value);
    entry.node.classList.add("busy");
    entry.node.dataset.ready = "";
    const { ok, data } = await post(section.dataset.preview, body);
    entry.node.classList.remove("busy");
    if (!entries.includes(entry)) return;
    const kept = entry.data && !reset ? readChoices(entry) : { columns: {}, level: "" };
    entry.error = ok ? null : data;
    entry.data = ok ? data : null;
    if (ok && !entry.layer && data.layer) entry.layer = data.layer;
    render(entry, kept);
    entry.node.dataset.ready = "1";
  }

  function options(values, selected, blank) {
    const blankOption = blank == null ? "" : `<option value="">${esc(blank)}</option>`;
    return blankOption + values
      .map(([value, text]) => `<option value="${esc(value)}"${value === selected ? " selected" : ""}>${esc(text)}</option>`)
      .join("");
  }

  function render(entry, kept) {
    const d = entry.data;
    const head = `<div class="file-head"><strong>${esc(entry.file.name)}</strong>`
      + `<button type="button" class="remove secondary">${esc(label("imp_remove"))}</button></div>`;
    if (!d) {
      entry.node.innerHTML = `${head}<div class="result error">${issuesHtml(entry.error || {})}</div>`;
      bindRemove(entry);
      return;
    }
    const facts = [
      d.count != null ? `${d.count} ${label("imp_rows")}` : "",
      (d.geometry || []).join(", "),
      d.encoding ? `${label("imp_encoding")}: ${d.encoding[0]} (${d.encoding[1]})` : "",
    ].filter(Boolean).join(" · ");
    const layerSelect = `<label>${esc(label("imp_layer"))}<select class="layer">`
      + options(LAYERS.map((l) => [l, label(`layer_${l}`)]), entry.layer, entry.layer ? null : label("imp_choose_layer"))
      + "</select></label>";
    const isGrids = entry.layer === "grids";
    const levelSelect = isGrids
      ? `<label>${esc(label("imp_level"))}<select class="level">`
        + options(LEVELS, kept.level, label("imp_level_from_file")) + "</select></label>"
      : "";
    const saved = (d.saved_mappings || []).filter((m) => m.layer === entry.layer);
    const savedSelect = saved.length
      ? `<label>${esc(label("imp_saved_mapping"))}<select class="saved">`
        + options(saved.map((m) => [m.name, m.name]), "", label("imp_no_saved")) + "</select></label>"
      : "";
    const columnOptions = d.columns.map((c) => [c, c]);
    const fields = (d.fields || [])
      .map((field) => {
        const keep = kept.columns[field];
        const chosen = keep === "" || d.columns.includes(keep) ? keep : (d.suggested || {})[field] || "";
        return `<label class="field">${esc(label(`field_${field}`))} <code>${esc(field)}</code>`
          + `<select data-field="${esc(field)}">${options(columnOptions, chosen, label("imp_not_mapped"))}</select></label>`;
      })
      .join("");
    const mapping = entry.layer && d.columns.length
      ? `<fieldset class="mapping"><legend>${esc(label("imp_mapping"))}</legend>`
        + (fields || `<p class="hint">${esc(label("imp_no_fields"))}</p>`) + "</fieldset>"
      : "";
    const table = d.columns.length
      ? `<div class="preview-wrap" tabindex="0" aria-label="${esc(label("imp_preview"))}"><table class="preview">`
        + `<caption>${esc(label("imp_preview"))}</caption>`
        + `<thead><tr>${d.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>`
        + d.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join("")}</tr>`).join("")
        + "</tbody></table></div>"
      : "";
    const save = d.columns.length
      ? `<label class="save">${esc(label("imp_save_as"))}<input type="text" class="save-name" maxlength="80">`
        + `<small class="hint save-hint"></small></label>`
      : "";
    entry.node.innerHTML = `${head}<p class="facts">${esc(facts)}</p>${layerSelect}${levelSelect}`
      + `${savedSelect}${mapping}${table}${save}`;
    bindRemove(entry);
    entry.node.querySelector("select.layer").addEventListener("change", (e) => {
      entry.layer = e.target.value || null;
      preview(entry, { reset: true });
    });
    const savedNode = entry.node.querySelector("select.saved");
    if (savedNode) {
      savedNode.addEventListener("change", () => {
        const found = saved.find((m) => m.name === savedNode.value);
        if (found) applySaved(entry, found.mapping);
      });
    }
    renderSaveHints();
  }

  function applySaved(entry, mapping) {
    const columns = mapping.columns || {};
    for (const select of entry.node.querySelectorAll("select[data-field]")) {
      const column = columns[select.dataset.field] || "";
      select.value = Array.from(select.options).some((o) => o.value === column) ? column : "";
    }
    const level = entry.node.querySelector("select.level");
    if (level) level.value = (mapping.constants || {}).level || "";
  }

  function bindRemove(entry) {
    entry.node.querySelector("button.remove").addEventListener("click", () => {
      entries.splice(entries.indexOf(entry), 1);
      entry.node.remove();
      invalidateCheck();
      renderSaveHints();
    });
  }

  function renderSaveHints() {
    const single = entries.length === 1;
    for (const entry of entries) {
      const input = entry.node.querySelector("input.save-name");
      if (!input) continue;
      input.disabled = !single;
      entry.node.querySelector(".save-hint").textContent = single ? "" : label("imp_save_one_file");
    }
  }

  // What the user chose in one file's block: field -> column ("" = not imported) and the level.
  function readChoices(entry) {
    const columns = {};
    for (const select of entry.node.querySelectorAll("select[data-field]")) {
      columns[select.dataset.field] = select.value;
    }
    const level = entry.node.querySelector("select.level");
    return { columns, level: level ? level.value : "" };
  }

  function formData(dryRun) {
    const body = new FormData();
    for (const entry of entries) {
      body.append(entry.key, entry.file);
      if (entry.layer) body.append(`layer_${entry.key}`, entry.layer);
      if (!entry.data) continue;
      const choices = readChoices(entry);
      const columns = Object.fromEntries(Object.entries(choices.columns).filter(([, c]) => c));
      body.append(`map_${entry.key}`, JSON.stringify({ columns, constants: {} }));
      if (choices.level) body.append(`level_${entry.key}`, choices.level);
    }
    const crsValue = crs.value === "other" ? crsCustom.querySelector("textarea").value.trim() : crs.value;
    if (crsValue) body.append("crs", crsValue);
    if (encoding.value) body.append("encoding", encoding.value);
    const parentBy = document.getElementById("import-parent-by").value;
    if (parentBy) body.append("parent_by", parentBy);
    if (document.getElementById("import-repair").checked) body.append("repair", "1");
    if (replace.checked) body.append("replace", "1");
    if (dryRun) body.append("dry_run", "1");
    const saveName = entries.length === 1 && entries[0].node.querySelector("input.save-name");
    if (!dryRun && saveName && saveName.value.trim()) body.append("save_mapping", saveName.value.trim());
    return body;
  }

  function summaryHtml(imported) {
    const plan = imported.plan || {};
    const rows = Object.entries(plan)
      .map(([layer, p]) => `<tr data-layer="${esc(layer)}"><td>${esc(layerLabel(layer))}</td>`
        + `<td class="added">${p.added}</td><td class="updated">${p.updated}</td><td class="deleted">${p.deleted}</td>`
        + `<td>${esc(label(`imp_mode_${(imported.mode || {})[layer] || "merge"}`))}</td></tr>`)
      .join("");
    const table = `<div class="preview-wrap"><table class="import-plan"><thead><tr><th>${esc(label("imp_layer"))}</th>`
      + `<th>${esc(label("imp_added"))}</th><th>${esc(label("imp_updated"))}</th><th>${esc(label("imp_deleted"))}</th><th></th></tr></thead>`
      + `<tbody>${rows}</tbody></table></div>`;
    const notes = (imported.notes || []).length
      ? `<details class="notes" open><summary>${esc(label("imp_notes"))} (${imported.notes.length})</summary><ul>`
        + imported.notes.map((n) => `<li>${esc(n)}</li>`).join("") + "</ul></details>"
      : "";
    const saved = imported.saved_mapping ? `<p>${esc(label("imp_saved_as"))}: ${esc(imported.saved_mapping)}</p>` : "";
    return table + notes + saved;
  }

  async function send(dryRun) {
    section.classList.add("busy");
    try {
      return await post(section.dataset.url, formData(dryRun));
    } finally {
      section.classList.remove("busy");
    }
  }

  function showAnswer(ok, data, heading) {
    result.className = `result ${ok ? "ok" : "error"}`;
    result.innerHTML = ok ? `<strong>${esc(heading)}</strong>${summaryHtml(data.imported)}` : issuesHtml(data);
  }

  function deletions(imported) {
    return Object.entries(imported.plan || {}).filter(([, p]) => p.deleted > 0);
  }

  function confirmDeletion(imported) {
    const items = deletions(imported)
      .map(([layer, p]) => {
        const more = p.deleted > p.deleted_ids.length ? ` ${label("imp_and_more")}` : "";
        return `<li data-layer="${esc(layer)}"><strong>${esc(layerLabel(layer))}</strong>: `
          + `${label("imp_deleted")} <span class="count">${p.deleted}</span> `
          + `<span class="ids">(${esc(p.deleted_ids.join(", "))}${esc(more)})</span></li>`;
      })
      .join("");
    dialog.querySelector(".deletions").innerHTML = items;
    return new Promise((resolve) => {
      const done = (yes) => {
        dialog.removeEventListener("click", onClick);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(yes);
      };
      const onClick = (e) => {
        if (e.target.tagName === "BUTTON") done(e.target.value === "confirm");
      };
      const onCancel = (e) => {
        e.preventDefault();
        done(false);
      };
      dialog.addEventListener("click", onClick);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
    });
  }

  checkButton.addEventListener("click", async () => {
    if (!entries.length) return;
    const { ok, data } = await send(true);
    showAnswer(ok, data, label("imp_check_ok"));
    runButton.disabled = !ok;
    section.dataset.checked = ok ? "1" : "";
  });

  runButton.addEventListener("click", async () => {
    if (replace.checked) {
      const check = await send(true);
      if (!check.ok) {
        showAnswer(false, check.data);
        runButton.disabled = true;
        return;
      }
      if (deletions(check.data.imported).length && !(await confirmDeletion(check.data.imported))) {
        result.className = "result";
        result.innerHTML = `<strong>${esc(label("imp_cancelled"))}</strong>`;
        return;
      }
    }
    const { ok, data } = await send(false);
    showAnswer(ok, data, label("accepted"));
    invalidateCheck();
    if (ok) section.dataset.imported = "1";
  });
})();
