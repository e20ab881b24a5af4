// User page (admins): add users, change role or grid, reset a password, remove a user.
(function () {
  "use strict";
  const result = document.getElementById("user-result");
  const S = window.MS_STRINGS;

  async function send(method, url, body) {
    try {
      const data = await window.MS.send(url, body, method);
      result.textContent = S.done;
      result.className = "";
      return data;
    } catch (err) {
      const issues = ((err.data && err.data.issues) || []).map((i) => `${i.field}: ${i.reason}`).join("; ");
      result.textContent = `${S.rejected}: ${err.message}${issues ? " (" + issues + ")" : ""}`;
      result.className = "error";
      return null;
    }
  }
  const userUrl = (name) => `/api/users/${encodeURIComponent(name)}`;

  document.getElementById("add-user").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = Object.fromEntries(f.entries());
    if (await send("POST", "/api/users", body)) location.reload();
  });
  for (const row of document.querySelectorAll("tr[data-user]")) {
    const name = row.dataset.user;
    row.querySelector(".save-user").addEventListener("click", () =>
      send("PATCH", userUrl(name), {
        role: row.querySelector("select[name=role]").value,
        grid_id: row.querySelector("input[name=grid_id]").value || null,
      })
    );
    row.querySelector(".reset-password").addEventListener("click", () => {
      const password = window.prompt(S.new_password);
      if (password) send("PATCH", userUrl(name), { password });
    });
    const remove = row.querySelector(".remove-user");
    if (remove) {
      remove.addEventListener("click", async () => {
        if (window.confirm(S.confirm_remove) && (await send("DELETE", userUrl(name)))) row.remove();
      });
    }
  }
})();
