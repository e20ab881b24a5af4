// Phone status entry for a grid worker: pick a building, tick households (one, a whole
// unit or the whole building), choose a status, save. The list shows each household's
// status in its colour and when it was set. Entries made without signal wait on the phone
// (localStorage) and are sent when back, each with an id of its own, so the server writes
// it once however often it is sent. "My recent entries" can be undone for a few minutes.
(function () {
  "use strict";
  const DATA = window.MS_ENTRY;
  const UNDO_MS = 5 * 60 * 1000;
  const KEEP = 30; // recent entries kept on the phone
  const STORE_KEY = `ms-entry-${DATA.user}`;
  const csrf = window.MS.csrf;
  const el = (id) => document.getElementById(id);
  const form = el("entry");
  const building = el("building");
  const list = el("households");
  const result = el("entry-result");
  const codes = Object.fromEntries(DATA.codes.map((c) => [c.code, c]));
  let shown = []; // households of the chosen building

  function T(key, values) {
    let text = DATA.strings[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.replace(`{${k}}`, v);
    return text;
  }
  const esc = window.MS.escapeHtml; // common.js
  function localTime(iso) {
    if (!iso) return "";
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "";
    return when.toLocaleString(DATA.lang === "zh" ? "zh-CN" : "en-GB", {
      timeZone: "Asia/Shanghai",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    });
  }
  function statusLabel(code) {
    return code && codes[code] ? codes[code].label : T("no_status");
  }
  function colourOf(code) {
    return code && codes[code] ? codes[code].colour : DATA.none_colour;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `e${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
  }

  // -- what the phone keeps: recent entries, some still to be sent ---------------------
  function load() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    } catch (err) {
      return [];
    }
  }
  function keep(entries) {
    localStorage.setItem(STORE_KEY, JSON.stringify(entries.slice(0, KEEP)));
    renderRecent();
  }
  function update(id, change) {
    keep(load().map((e) => (e.id === id ? { ...e, ...change } : e)));
  }

  // -- the household list --------------------------------------------------------------
  function room(h) {
    return [h.unit ? T("entry_unit", { unit: h.unit }) : "", h.room || ""].filter(Boolean).join(" ") || h.household_id;
  }
  function render() {
    const units = new Map();
    for (const h of shown) {
      const unit = h.unit || "";
      if (!units.has(unit)) units.set(unit, []);
      units.get(unit).push(h);
    }
    const parts = [];
    if (shown.length) {
      parts.push(`<button type="button" class="pick-all" data-unit="*">${esc(T("entry_whole_building"))}</button>`);
    }
    for (const [unit, rows] of units) {
      const head = unit
        ? `<div class="unit-head"><strong>${esc(T("entry_unit", { unit }))}</strong><button type="button" class="pick-all" data-unit="${esc(unit)}">${esc(T("entry_whole_unit", { unit }))}</button></div>`
        : "";
      const items = rows
        .map(
          (h) =>
            `<label class="household" data-id="${esc(h.household_id)}" data-status="${esc(h.status || "")}">` +
            `<input type="checkbox" value="${esc(h.household_id)}">` +
            `<span class="swatch" style="background:${colourOf(h.status)}"></span>` +
            `<span class="room">${esc(h.room || h.household_id)}</span>` +
            `<span class="state">${esc(statusLabel(h.status))}</span>` +
            `<small class="when">${h.updated_at ? esc(T("entry_updated", { time: localTime(h.updated_at) })) : ""}</small></label>`
        )
        .join("");
      parts.push(`<fieldset class="unit" data-unit="${esc(unit)}">${head}${items}</fieldset>`);
    }
    list.innerHTML = parts.join("");
    countTicked();
  }
  function ticked() {
    return Array.from(list.querySelectorAll("input[type=checkbox]:checked")).map((i) => i.value);
  }
  function countTicked() {
    const n = ticked().length;
    const status = form.querySelector('input[name="status"]:checked');
    el("save").textContent = T("entry_save_n", { n });
    el("save").disabled = !n || !status;
  }
  async function loadBuilding() {
    shown = [];
    render();
    if (!building.value) return;
    form.classList.add("busy");
    try {
      const response = await fetch(`/api/households?building=${encodeURIComponent(building.value)}`);
      if (!response.ok) throw new Error(String(response.status));
      shown = (await response.json()).households;
      applyPending();
      render();
    } catch (err) {
      result.textContent = T("entry_refused", { reason: T("entry_bad_data") });
      result.className = "error";
    } finally {
      form.classList.remove("busy");
    }
  }
  function applyPending() {
    // entries not yet sent show as made: the worker sees what they entered
    for (const entry of load().slice().reverse()) {
      if (entry.state !== "waiting") continue;
      for (const row of entry.rows) {
        const h = shown.find((x) => x.household_id === row.entity_id);
        if (h) {
          h.status = row.status;
          h.updated_at = entry.at;
        }
      }
    }
  }

  // -- saving and sending ---------------------------------------------------------------
  function refusal(response, data) {
    if (response.status === 401) return T("entry_login_again");
    if (response.status === 403) return T("entry_not_yours");
    const issues = (data && data.issues) || [];
    if (issues.some((i) => i.code === "outside_area")) return T("entry_not_yours");
    return T("entry_bad_data");
  }
  async function send(entry) {
    // true: written (now or before); false: refused for good; throws when offline
    const response = await fetch("/api/status", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ request_id: entry.id, rows: entry.rows }),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.ok) {
      update(entry.id, { state: "sent", seq: data.seq });
      return true;
    }
    if (response.status >= 500) throw new Error(String(response.status)); // try again later
    update(entry.id, { state: "refused", reason: refusal(response, data) });
    return false;
  }
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      // oldest first: a later entry on the same household must land last
      for (const entry of load().slice().reverse()) {
        if (entry.state !== "waiting") continue;
        try {
          await send(entry);
        } catch (err) {
          break; // still no signal: keep the rest, in order
        }
      }
    } finally {
      flushing = false;
      renderRecent();
    }
  }
  async function record(rows, previous, undoOf) {
    const entry = {
      id: newId(),
      at: new Date().toISOString(),
      rows,
      previous,
      state: "waiting",
      undo_of: undoOf || null,
      label: rows.length === 1 ? room(shown.find((h) => h.household_id === rows[0].entity_id) || { household_id: rows[0].entity_id }) : "",
      building: building.selectedOptions[0] ? building.selectedOptions[0].textContent : "",
    };
    keep([entry, ...load()]);
    for (const row of rows) {
      const h = shown.find((x) => x.household_id === row.entity_id);
      if (h) {
        h.status = row.status;
        h.updated_at = entry.at;
      }
    }
    render();
    const status = statusLabel(rows[0].status);
    try {
      const ok = await send(entry);
      const done = load().find((e) => e.id === entry.id) || {};
      result.textContent = ok ? T("entry_saved_n", { n: rows.length, status }) : T("entry_refused", { reason: done.reason });
      result.className = ok ? "ok" : "error";
      if (!ok) loadBuilding(); // the list as the server has it
    } catch (err) {
      result.textContent = T("entry_queued_n", { n: rows.length });
      result.className = "queued";
    }
    renderRecent();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const status = form.querySelector('input[name="status"]:checked');
    const ids = ticked();
    if (!status || !ids.length) {
      result.textContent = T("entry_pick");
      result.className = "error";
      return;
    }
    const previous = ids.map((id) => {
      const h = shown.find((x) => x.household_id === id);
      return { entity_id: id, status: h ? h.status : null };
    });
    const rows = ids.map((id) => ({ entity_kind: "household", entity_id: id, status: status.value }));
    record(rows, previous);
  });

  // -- my recent entries, with undo ----------------------------------------------------------
  function renderRecent() {
    const entries = load();
    const waiting = entries.filter((e) => e.state === "waiting").length;
    el("queue").hidden = !waiting;
    el("queue").textContent = waiting ? T("entry_pending", { n: waiting }) : "";
    document.body.dataset.pending = String(waiting);
    el("recent").innerHTML = entries
      .map((e) => {
        const states = { sent: T("entry_sent"), waiting: T("entry_waiting"), refused: T("entry_refused", { reason: e.reason || "" }), undone: T("entry_undone") };
        const first = e.rows[0];
        const what = `${esc(e.building)} ${e.rows.length === 1 ? esc(e.label) : esc(T("entry_n_households", { n: e.rows.length }))}`;
        const canUndo = e.state === "sent" && !e.undo_of && Date.now() - Date.parse(e.at) < UNDO_MS && e.previous.every((p) => p.status);
        return (
          `<li data-id="${esc(e.id)}" data-state="${esc(e.state)}"><span class="swatch" style="background:${colourOf(first.status)}"></span>` +
          `${what} → ${esc(statusLabel(first.status))} <small>${esc(localTime(e.at))} · ${esc(states[e.state] || "")}</small>` +
          `${canUndo ? `<button type="button" class="undo">${esc(T("undo"))}</button>` : ""}</li>`
        );
      })
      .join("");
  }
  el("recent").addEventListener("click", (e) => {
    const button = e.target.closest("button.undo");
    if (!button) return;
    const id = button.closest("li").dataset.id;
    const entry = load().find((x) => x.id === id);
    if (!entry) return;
    update(id, { state: "undone" });
    const rows = entry.previous.map((p) => ({ entity_kind: "household", entity_id: p.entity_id, status: p.status }));
    record(rows, entry.rows.map((r) => ({ entity_id: r.entity_id, status: r.status })), id);
  });

  // -- controls ---------------------------------------------------------------------------
  building.addEventListener("change", loadBuilding);
  list.addEventListener("click", (e) => {
    const button = e.target.closest("button.pick-all");
    if (!button) return;
    const unit = button.dataset.unit;
    const boxes = Array.from(list.querySelectorAll(unit === "*" ? "input[type=checkbox]" : `fieldset.unit[data-unit="${CSS.escape(unit)}"] input[type=checkbox]`));
    const all = boxes.every((b) => b.checked);
    for (const b of boxes) b.checked = !all;
    countTicked();
  });
  list.addEventListener("change", countTicked);
  form.addEventListener("change", (e) => {
    if (e.target.name === "status") countTicked();
  });
  window.addEventListener("online", flush);
  setInterval(flush, 10000);
  renderRecent();
  countTicked();
  flush();
  window.msEntry = { flush, pending: () => load().filter((e) => e.state === "waiting").length };
})();
