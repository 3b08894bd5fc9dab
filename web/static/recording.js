// Recording view: the transcript follows the player; editors correct segments in place.
"use strict";
(() => {
  const root = document.getElementById("recording");
  const player = document.getElementById("player");
  const list = document.getElementById("segments");
  const editable = root.dataset.editable === "yes";
  let segs = Array.from(list.querySelectorAll(".seg"));
  let playing = null;
  let active = null;

  const fmt = (s) => Number(s).toFixed(2);

  // Words become clickable spans when their segment comes near the screen, so a 3-hour
  // transcript loads as plain text and stays light.
  const allWords = JSON.parse(document.getElementById("words").textContent || "{}");
  function hydrate(seg) {
    const box = seg.querySelector(".text");
    const words = allWords[seg.dataset.id];
    if (!words) return;
    delete allWords[seg.dataset.id];
    box.textContent = "";
    for (const [word, start, low] of words) {
      const span = document.createElement("span");
      span.dataset.s = start;
      if (low) span.className = "low";
      span.textContent = word;
      box.appendChild(span);
    }
  }
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => entries.forEach((e) => {
        if (e.isIntersecting) { hydrate(e.target); observer.unobserve(e.target); }
      }), { rootMargin: "1500px 0px" })
    : null;
  segs.forEach((s) => (observer ? observer.observe(s) : hydrate(s)));
  const seek = (t, play) => { player.currentTime = Math.max(0, Number(t)); if (play) player.play().catch(() => {}); };

  function setActive(seg) {
    if (active) active.classList.remove("active");
    active = seg;
    if (seg) { seg.classList.add("active"); seg.scrollIntoView({ block: "nearest" }); }
  }

  function current(t) {
    let lo = 0, hi = segs.length - 1, found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (Number(segs[mid].dataset.start) <= t) { found = segs[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return found && t <= Number(found.dataset.end) + 0.05 ? found : null;
  }

  player.addEventListener("timeupdate", () => {
    const seg = current(player.currentTime);
    if (seg === playing) return;
    if (playing) playing.classList.remove("playing");
    playing = seg;
    if (seg) {
      seg.classList.add("playing");
      if (document.getElementById("follow").checked && !seg.querySelector("textarea:not([hidden])")) {
        seg.scrollIntoView({ block: "center", behavior: "smooth" });
      }
    }
  });

  // The waveform (peaks computed at enrichment): shows where the speech is, click to seek.
  const wave = document.getElementById("waveform");
  if (wave) {
    let peaks = null;
    const draw = () => {
      if (!peaks) return;
      const w = (wave.width = wave.clientWidth), h = wave.height, ctx = wave.getContext("2d");
      const dur = player.duration || peaks.duration || 1, played = player.currentTime / dur;
      ctx.clearRect(0, 0, w, h);
      const n = peaks.peaks.length;
      for (let x = 0; x < w; x++) {
        const a = Math.floor((x * n) / w), b = Math.max(a + 1, Math.floor(((x + 1) * n) / w));
        let m = 0;
        for (let i = a; i < b && i < n; i++) m = Math.max(m, peaks.peaks[i]);
        const bar = Math.max(1, (m / 100) * h);
        ctx.fillStyle = x / w <= played ? "#8a1c1c" : "#b8b2a7";
        ctx.fillRect(x, (h - bar) / 2, 1, bar);
      }
    };
    fetch(wave.dataset.peaks).then((r) => r.json()).then((p) => { peaks = p; draw(); }).catch(() => wave.remove());
    wave.addEventListener("click", (ev) => {
      const dur = player.duration || (peaks && peaks.duration) || 0;
      seek((ev.offsetX / wave.clientWidth) * dur, true);
    });
    player.addEventListener("timeupdate", draw);
    window.addEventListener("resize", draw);
  }

  const startAt = Number(root.dataset.startAt || 0);
  if (startAt > 0) {
    const go = () => { seek(startAt, false); setActive(current(startAt + 0.01) || segs.find((s) => Number(s.dataset.start) >= startAt)); };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  list.addEventListener("click", (ev) => {
    const seg = ev.target.closest(".seg");
    if (!seg) return;
    if (ev.target.classList.contains("pick")) return;
    if (ev.target.classList.contains("time")) { setActive(seg); seek(seg.dataset.start, true); return; }
    if (ev.target.dataset.s !== undefined && ev.detail <= 1) {
      setActive(seg); seek(ev.target.dataset.s || seg.dataset.start, true);
    }
  });
  if (editable) list.addEventListener("dblclick", (ev) => { const seg = ev.target.closest(".seg"); if (seg) openEditor(seg); });

  function renderText(seg, text) {
    const box = seg.querySelector(".text");
    box.textContent = "";
    const span = document.createElement("span");
    span.dataset.s = seg.dataset.start;
    span.textContent = text;
    box.appendChild(span);
  }

  function apply(seg, data) {
    seg.dataset.version = data.version;
    seg.dataset.start = data.start;
    seg.dataset.end = data.end;
    seg.dataset.speaker = data.speaker || "";
    seg.querySelector(".speaker").textContent = data.speaker || "";
    seg.querySelector("textarea.raw").value = data.text;
    renderText(seg, data.text);
  }

  function closeEditor(seg) {
    const row = seg.querySelector(".edit-row");
    if (row) row.remove();
    seg.querySelector("textarea.raw").hidden = true;
    seg.querySelector(".text").hidden = false;
  }

  function openEditor(seg) {
    if (seg.querySelector(".edit-row")) { seg.querySelector("textarea.raw").focus(); return; }
    setActive(seg);
    const area = seg.querySelector("textarea.raw");
    seg.querySelector(".text").hidden = true;
    area.hidden = false;
    const row = document.createElement("div");
    row.className = "edit-row";
    const field = (label, value, cls) => {
      const l = document.createElement("label");
      l.textContent = label + " ";
      const i = document.createElement("input");
      i.className = cls; i.value = value;
      l.appendChild(i); row.appendChild(l);
      return i;
    };
    field("start", fmt(seg.dataset.start), "e-start");
    field("end", fmt(seg.dataset.end), "e-end");
    field("speaker", seg.dataset.speaker || "", "e-speaker");
    const button = (label, cls, fn) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = cls; b.textContent = label; b.onclick = fn;
      row.appendChild(b);
    };
    button("保存 Save", "e-save", () => save(seg));
    button("拆分 Split", "secondary e-split", () => split(seg));
    button("合并 Merge next", "secondary e-merge", () => merge(seg));
    button("取消 Cancel", "secondary e-cancel", () => { area.value = area.defaultValue; closeEditor(seg); });
    seg.appendChild(row);
    area.focus();
  }

  async function save(seg, force) {
    const area = seg.querySelector("textarea.raw");
    const body = {
      version: Number(force !== undefined ? force : seg.dataset.version),
      text: area.value,
      start: Number(seg.querySelector(".e-start").value),
      end: Number(seg.querySelector(".e-end").value),
      speaker: seg.querySelector(".e-speaker").value,
    };
    const res = await Lantai.call("PUT", `/api/segments/${seg.dataset.id}`, body);
    if (res.ok) {
      Lantai.message("");
      apply(seg, res.data);
      area.defaultValue = res.data.text;
      closeEditor(seg);
      seg.classList.add("saved");
      return;
    }
    if (res.status === 409) {
      const theirs = res.data.current;
      const choice = await Lantai.conflict(theirs.text, body.text);
      if (choice === "mine") return save(seg, theirs.version);
      apply(seg, theirs);
      closeEditor(seg);
      return;
    }
    Lantai.message(res.data.error || `error ${res.status}`);
  }

  async function split(seg) {
    const area = seg.querySelector("textarea.raw");
    const res = await Lantai.call("POST", `/api/segments/${seg.dataset.id}/split`, { version: Number(seg.dataset.version), at: area.selectionStart });
    if (res.ok) location.assign(`${location.pathname}?t=${seg.dataset.start}`);
    else Lantai.message(res.data.error || `error ${res.status}`);
  }

  async function merge(seg) {
    const next = seg.nextElementSibling;
    if (!next) { Lantai.message("last segment"); return; }
    const res = await Lantai.call("POST", `/api/segments/${seg.dataset.id}/merge`, { version: Number(seg.dataset.version), next_version: Number(next.dataset.version) });
    if (res.ok) location.assign(`${location.pathname}?t=${seg.dataset.start}`);
    else Lantai.message(res.data.error || `error ${res.status}`);
  }

  Lantai.wireProject(() => {
    const picked = segs.filter((s) => s.querySelector("input.pick:checked"));
    if (!picked.length) return null;
    return { segment_from: Number(picked[0].dataset.id), segment_to: Number(picked[picked.length - 1].dataset.id) };
  });

  const rename = document.getElementById("speaker-rename");
  if (rename) rename.addEventListener("click", async () => {
    const res = await Lantai.call("POST", `/api/transcripts/${root.dataset.transcript}/speakers`, {
      old: document.getElementById("speaker-old").value, new: document.getElementById("speaker-new").value,
    });
    if (res.ok) location.reload(); else Lantai.message(res.data.error || `error ${res.status}`);
  });

  document.addEventListener("keydown", (ev) => {
    const inText = ev.target.matches("textarea, input");
    if (ev.altKey && ev.code === "KeyK") { ev.preventDefault(); if (player.paused) player.play().catch(() => {}); else player.pause(); return; }
    if (ev.altKey && ev.code === "KeyJ") { ev.preventDefault(); seek(player.currentTime - 5, false); return; }
    if (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
      ev.preventDefault();
      const base = active || playing || segs[0];
      const i = segs.indexOf(base) + (ev.key === "ArrowDown" ? 1 : -1);
      const seg = segs[Math.max(0, Math.min(segs.length - 1, i))];
      setActive(seg); seek(seg.dataset.start, false);
      return;
    }
    if (inText && ev.ctrlKey && ev.key === "Enter") {
      const seg = ev.target.closest(".seg");
      if (seg) { ev.preventDefault(); save(seg); }
      return;
    }
    if (inText && ev.key === "Escape") {
      const seg = ev.target.closest(".seg");
      if (seg) { const a = seg.querySelector("textarea.raw"); a.value = a.defaultValue; closeEditor(seg); }
      return;
    }
    if (!inText && editable && ev.key === "Enter" && active) { ev.preventDefault(); openEditor(active); }
  });
})();
