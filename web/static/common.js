// Shared by the staff pages: JSON calls carrying the CSRF token, and the conflict box.
"use strict";
const Lantai = {
  csrf: document.body.dataset.csrf,
  async call(method, url, body) {
    const res = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": Lantai.csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
    return { ok: res.ok, status: res.status, data };
  },
  message(text) {
    const el = document.getElementById("message");
    el.textContent = text || "";
    el.hidden = !text;
  },
  // "Add to project": post the picked span, show a link to the project.
  wireProject(span) {
    const button = document.getElementById("add-to-project");
    if (!button) return;
    button.addEventListener("click", async () => {
      const body = span();
      if (!body) { Lantai.message("✓ ?"); return; }
      body.project_id = Number(document.getElementById("project").value);
      const res = await Lantai.call("POST", "/api/excerpts", body);
      if (!res.ok) { Lantai.message(res.data.error || `error ${res.status}`); return; }
      Lantai.message("");
      const link = document.getElementById("added-link");
      link.href = res.data.link; link.textContent = document.getElementById("project").selectedOptions[0].textContent;
      document.getElementById("added").hidden = false;
      document.querySelectorAll("input.pick:checked").forEach((c) => { c.checked = false; });
    });
  },
  // Show both texts; resolve to "theirs" or "mine" when the editor chooses.
  conflict(theirs, mine) {
    const box = document.getElementById("conflict");
    document.getElementById("conflict-theirs").textContent = theirs;
    document.getElementById("conflict-yours").textContent = mine;
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
    return new Promise((resolve) => {
      const done = (choice) => { box.hidden = true; resolve(choice); };
      document.getElementById("conflict-theirs-btn").onclick = () => done("theirs");
      document.getElementById("conflict-mine-btn").onclick = () => done("mine");
    });
  },
};
