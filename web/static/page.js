// Page view: boxes over the page image follow the OCR lines; editors correct lines in place.
"use strict";
(() => {
  const view = document.getElementById("pageview");
  const wrap = document.getElementById("image-wrap");
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const W = page.width || 1, H = page.height || 1;
  const editable = view.dataset.editable === "yes";
  let version = Number(view.dataset.version);

  const place = (el, bbox) => {
    const [x0, y0, x1, y1] = bbox;
    el.style.left = `${(100 * x0) / W}%`; el.style.top = `${(100 * y0) / H}%`;
    el.style.width = `${(100 * (x1 - x0)) / W}%`; el.style.height = `${(100 * (y1 - y0)) / H}%`;
  };
  wrap.querySelectorAll(".box[data-line]").forEach((box) => place(box, page.lines[Number(box.dataset.line)].bbox));
  // a search hit's boxes: one per line the match covers; the view scrolls to the first
  wrap.querySelectorAll(".box.hit").forEach((b) => place(b, b.dataset.bbox.split(",").map(Number)));
  const hit = document.getElementById("hit");
  if (hit) hit.scrollIntoView({ block: "center" });

  const lineEl = (i) => document.querySelector(`.line[data-line="${i}"]`);
  const boxEl = (i) => wrap.querySelector(`.box[data-line="${i}"]`);
  function highlight(i, on) {
    const l = lineEl(i), b = boxEl(i);
    if (l) l.classList.toggle("on", on);
    if (b) { b.classList.toggle("on", on); if (on) b.scrollIntoView({ block: "nearest", inline: "nearest" }); }
  }
  document.querySelectorAll(".line").forEach((l) => {
    const i = l.dataset.line;
    l.addEventListener("mouseenter", () => highlight(i, true));
    l.addEventListener("mouseleave", () => highlight(i, false));
    l.querySelector(".edit").addEventListener("focus", () => highlight(i, true));
    l.querySelector(".edit").addEventListener("blur", () => highlight(i, false));
  });
  wrap.querySelectorAll(".box[data-line]").forEach((b) => b.addEventListener("click", () => {
    const input = lineEl(b.dataset.line).querySelector(".edit");
    input.focus();
  }));

  Lantai.wireProject(() => {
    const picked = Array.from(document.querySelectorAll(".line")).filter((l) => l.querySelector("input.pick:checked"));
    if (!picked.length) return null;
    const pageNo = Number(view.dataset.pageNo);
    return { item_id: Number(view.dataset.item), page_from: pageNo, page_to: pageNo,
      line_from: Number(picked[0].dataset.line), line_to: Number(picked[picked.length - 1].dataset.line) };
  });

  let zoom = 1;
  const setZoom = (z) => { zoom = Math.min(6, Math.max(0.5, z)); wrap.style.width = `${zoom * 100}%`; };
  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));

  const saving = new Set();
  async function save(input, force) {
    if (saving.has(input) && force === undefined) return;
    saving.add(input);
    try { await send(input, force); } finally { saving.delete(input); }
  }
  async function send(input, force) {
    const li = input.closest(".line");
    const body = { version: force !== undefined ? force : version, base: input.dataset.base, text: input.value };
    const res = await Lantai.call("PUT", `/api/pages/${page.id}/lines/${li.dataset.line}`, body);
    if (res.ok) {
      version = res.data.version;
      input.dataset.base = input.value;
      li.classList.add("edited", "saved");
      Lantai.message("");
      return;
    }
    if (res.status === 409) {
      const theirs = res.data.current;
      const choice = await Lantai.conflict(theirs.text, body.text);
      if (choice === "mine") { input.dataset.base = theirs.text; return send(input, theirs.version); }
      input.value = theirs.text; input.dataset.base = theirs.text; version = theirs.version;
      return;
    }
    Lantai.message(res.data.error || `error ${res.status}`);
  }
  if (editable) document.querySelectorAll(".line .edit").forEach((input) => {
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); if (input.value !== input.dataset.base) save(input); }
      if (ev.key === "Escape") input.value = input.dataset.base;
    });
    input.addEventListener("change", () => { if (input.value !== input.dataset.base) save(input); });
  });
})();
