// Phone status entry: pick a building and household, choose a status, save through the API.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const building = document.getElementById("building");
  const household = document.getElementById("household");
  const result = document.getElementById("entry-result");
  const form = document.getElementById("entry");

  building.addEventListener("change", async () => {
    household.innerHTML = "";
    if (!building.value) return;
    form.classList.add("busy");
    try {
      const response = await fetch(`/api/households?building=${encodeURIComponent(building.value)}`);
      const data = await response.json();
      for (const h of data.households) {
        const label = [h.unit && `${h.unit}单元`, h.room, h.status && `(${h.status})`].filter(Boolean).join(" ");
        const option = new Option(label || h.household_id, h.household_id);
        option.dataset.status = h.status || "";
        household.add(option);
      }
      household.dispatchEvent(new Event("change"));
    } finally {
      form.classList.remove("busy");
    }
  });
  household.addEventListener("change", () => {
    const option = household.selectedOptions[0];
    const current = option && option.dataset.status;
    for (const radio of form.querySelectorAll('input[name="status"]')) radio.checked = radio.value === current;
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = form.querySelector('input[name="status"]:checked');
    if (!status || !household.value) return;
    form.classList.add("busy");
    result.className = "";
    try {
      const response = await fetch("/api/status", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ entity_kind: "household", entity_id: household.value, status: status.value }),
      });
      const data = await response.json();
      if (response.ok) {
        result.textContent = `${window.MS_STRINGS.saved} (#${data.seq})`;
        result.className = "ok";
        const option = household.selectedOptions[0];
        option.dataset.status = status.value;
      } else {
        result.textContent = `${window.MS_STRINGS.rejected}: ${data.message}`;
        result.className = "error";
      }
    } finally {
      form.classList.remove("busy");
    }
  });
})();
