// The studio page's script (run by gr.HTML's js_on_load with element, props, trigger, server, watch, upload).
// It keeps what the server sent (cards by step id), draws it in one place (`render`), and sends every action
// with the step it shows and the session version it was shown. Logic about the loop stays on the server.
const $ = (sel) => element.querySelector(sel);
const $$ = (sel) => Array.from(element.querySelectorAll(sel));
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
// People's text (titles, prompts, plans, critiques, notes, names) is isolated from what surrounds it, so a
// right-to-left override inside it cannot reverse the page's own words: <bdi> in HTML, FSI…PDI in plain text.
const bdi = (s) => `<bdi>${esc(s)}</bdi>`;
const iso = (s) => "\u2068" + String(s ?? "") + "\u2069";
const S = {session: null, cards: {}, tree: [], branch: [], branches: [], selected: null, running: false,
           progress: null, preview: null, dirty: {}, seen: {}, gallery: [], picked: null, seq: 0, zoom: false,
           me: null};

// ---- talking to the server -------------------------------------------------------------------------
function have() { return Object.values(S.cards).map((c) => c.key); }
function toast(message, kind = "error") {
  const box = $("#sb-toast");
  box.textContent = message; box.className = "sb-toast " + (kind === "error" ? "" : kind); box.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 9000 : 4000);
}
async function call(name, ...args) {
  let reply;
  try { reply = await server[name](args); } catch (e) { toast("The studio server did not answer; is it still running?"); return null; }
  if (reply && reply.error) { toast(reply.error); if (reply.full) apply(reply); return null; }
  if (reply && "result" in reply) return reply.result;
  apply(reply);
  return reply && reply.conflict ? null : reply;  // a conflict acted on nothing: typed text stays unsaved
}
function work(action, extra = {}) {
  if (!S.session || S.running) return;
  S.running = true; S.seq += 1; renderControls();
  trigger("submit", {action, seq: S.seq, session_id: S.session.id, version: S.session.version, have: have(), ...extra});
}
watch("value", () => { if (props.value) apply(props.value); });

// ---- merging a view --------------------------------------------------------------------------------
function apply(v) {
  if (!v) return;
  if (v.error) toast(v.error);
  if (v.error && v.seq !== undefined && !v.full) { S.running = false; S.progress = null; S.preview = null; render(); return; }
  if (v.conflict) toast(v.conflict, "warn");
  if (v.progress !== undefined && v.progress) S.progress = v.progress;
  if (v.preview) S.preview = v.preview;
  if (v.note) setStatus(v.note);
  if (!v.full && v.session && S.session && v.session.id === S.session.id) {  // model work done, nothing new to draw
    S.session = v.session; S.running = false; S.progress = null; S.preview = null;
    if (v.selected) S.selected = v.selected;
    setStatus(statusText(v.note)); remember(); render(); return;
  }
  if (!v.full) { if (v.running) { S.running = true; } renderControls(); renderProgress(); renderCanvas(); return; }
  if (v.session) {
    const other = !S.session || S.session.id !== v.session.id;
    if (other) { S.cards = {}; S.dirty = {}; S.seen = {}; }
    S.session = v.session;
    const keep = new Set(v.tree.map((t) => t[0]));
    for (const id of Object.keys(S.cards)) if (!keep.has(id)) delete S.cards[id];
    Object.assign(S.cards, v.cards);
    S.tree = v.tree; S.branch = v.branch; S.branches = v.branches;
    if (v.selected && (other || v.note !== "reloaded")) S.selected = v.selected;
    if (!S.cards[S.selected]) S.selected = S.branch[S.branch.length - 1] || null;
  } else {
    S.session = null; S.cards = {}; S.tree = []; S.branch = []; S.branches = []; S.selected = null;
  }
  S.running = !!v.running;
  if (!S.running) { S.progress = null; S.preview = null; }
  if (v.note && !v.running) setStatus(statusText(v.note));
  remember();
  render();
}
function statusText(note) {
  if (!S.session) return note;
  const s = S.session;
  const where = s.steps ? `${s.steps} ${s.steps === 1 ? "step" : "steps"}, round ${s.rounds} of ${s.max_rounds}` : "no steps yet";
  return `${note} · ${where}${s.finished && note !== "finished" ? " · finished" : ""}`;
}
function setStatus(text) { $("#sb-status").textContent = text; }

// ---- the URL: ?session=ID&step=ID -------------------------------------------------------------------
function remember(push = false) {
  const url = new URL(window.location.href);
  if (S.session) { url.searchParams.set("session", S.session.id); } else { url.searchParams.delete("session"); }
  if (S.selected) { url.searchParams.set("step", S.selected); } else { url.searchParams.delete("step"); }
  if (url.href !== window.location.href) history[push ? "pushState" : "replaceState"](null, "", url);
}
window.addEventListener("popstate", () => restore());
function restore() {
  const url = new URL(window.location.href);
  const id = url.searchParams.get("session"), step = url.searchParams.get("step") || "";
  if (id && (!S.session || S.session.id !== id)) call("open_session", id, step, []);
  else if (id && step && S.cards[step]) { S.selected = step; render(); }
}

// ---- drawing -----------------------------------------------------------------------------------------
function render() { renderHead(); renderBoard(); renderTree(); renderCanvas(); renderPanel(); renderControls(); renderProgress(); renderCompareChoices(); }
function renderHead() {
  $("#sb-title").textContent = S.session ? (S.session.title || S.session.prompt) : "No session open";
  $("#sb-sid").textContent = S.session ? `${S.session.id.slice(0, 8)} · ${S.session.engine} · seed ${S.session.seed}` : "";
  if (S.session && document.activeElement !== $("#sb-prompt") && !$("#sb-prompt").dataset.touched) { $("#sb-prompt").value = S.session.prompt; count(); }
  const s = S.session, owner = $("#sb-owner");
  if (!s || !S.me || !S.me.login) { owner.innerHTML = ""; return; }
  const mine = s.owner === S.me.name || !s.owner || S.me.role === "admin";
  owner.innerHTML = `<span class="sb-badge ${s.shared ? "acc" : "private"}">${s.shared ? "shared with the team" : "private"}</span>` +
    (s.owner && s.owner !== S.me.name ? ` <span class="sb-muted">owner ${bdi(s.owner)}</span>` : "") +
    (mine ? ` <button id="sb-share" title="who can see this session">${s.shared ? "Make private" : "Share with team"}</button>` : "");
}
element.addEventListener("click", (e) => {
  if (e.target.id !== "sb-share" || !S.session) return;
  call("share", S.session.id, S.session.version, !S.session.shared, have());
});
function who(c) { return c.annotator && S.me && c.annotator === S.me.name ? "you" : (c.annotator || "a person"); }
const RATING = {up: "good", down: "bad"};
function ratingText(j) { return RATING[j.value] || `${j.value}/5`; }
function badge(check, name) {
  if (!check) return "";
  return `<span class="sb-badge ${check.passed ? "ok" : "bad"}" title="${esc(iso(check.critique))}">${name} ${check.passed ? "✓" : "✗"}</span>`;
}
function cardHtml(c) {
  const sel = c.id === S.selected ? " sel" : "", rej = c.review === "rejected" ? " rejected" : "", you = c.author === "human" ? " human" : "";
  const by = c.author === "human" || c.annotator ? `<span class="sb-badge you" title="${c.author === "human" ? "written" : "reviewed"} by ${esc(iso(who(c)))}">${bdi(who(c))}</span>` : "";
  const rated = (c.judgements || []).filter((j) => j.kind === "rating");
  const stars = rated.length ? `<span class="sb-badge rate" title="${esc(rated.map((j) => `${iso(j.annotator)}: ${ratingText(j)}${j.note ? " — " + iso(j.note) : ""}`).join("\n"))}">${rated.map(ratingText).join(" ")}</span>` : "";
  const rev = c.review === "accepted" ? `<span class="sb-badge acc">accepted</span>` : c.review === "rejected" ? `<span class="sb-badge bad" title="${esc(iso(c.review_note))}">rejected</span>` : "";
  const head = `<div class="kind"><span>${c.stage}</span><span>${by}${stars}${rev}</span></div>`;
  let body = "";
  if (c.stage === "plan") body = `<div class="txt"><b>${bdi(c.instruction)}</b><br>${bdi(c.description)}</div>`;
  else if (c.stage === "inspect") body = c.unreadable && !c.plan_check && !c.sketch_check ? `<div><span class="sb-badge bad">unreadable</span></div><div class="txt" title="${esc(iso(c.unreadable))}">${bdi(c.unreadable)}</div>` : `<div>${badge(c.plan_check, "plan")}${badge(c.sketch_check, "sketch")}${c.unreadable ? `<span class="sb-badge bad" title="${esc(iso(c.unreadable))}">part unreadable</span>` : ""}</div><div class="txt">${bdi((c.sketch_check && !c.sketch_check.passed ? c.sketch_check.critique : "") || (c.plan_check && !c.plan_check.passed ? c.plan_check.critique : "") || (c.sketch_check || c.plan_check || {}).critique || "")}</div>`;
  else if (c.stage === "refine") body = `<img loading="lazy" src="${esc(c.image)}" alt="refined image"><div class="txt" title="${esc(iso(c.instruction))}">${bdi(c.instruction)}</div>`;
  else body = c.image ? `<img loading="lazy" src="${esc(c.image)}" alt="${c.stage}">` : "";
  const wide = c.stage === "plan" || c.stage === "inspect" ? " text" : "";
  const why = c.review === "rejected" && c.review_note ? ` title="rejected: ${esc(iso(c.review_note))}"` : "";
  return `<div class="sb-card${wide}${sel}${rej}${you}" data-id="${c.id}" data-stage="${c.stage}"${why}>${head}${body}</div>`;
}
function rejectedBefore(c) {
  return Object.values(S.cards).filter((o) => o.parent === c.parent && o.stage === c.stage && o.review === "rejected" && o.id !== c.id)
    .sort((a, b) => a.created - b.created);
}
function renderBoard() {
  const box = $("#sb-board");
  if (!S.session) { box.innerHTML = `<p class="sb-empty">The loop appears here, one row per round: plan → sketch → verdict → refine.</p>`; return; }
  if (!S.branch.length) { box.innerHTML = `<p class="sb-empty">Press Step (s) or Run to end (r) to start the loop.</p>`; return; }
  const rows = [];
  for (const id of S.branch) {
    const c = S.cards[id]; if (!c) continue;
    if (!rows.length || c.stage === "plan" && rows[rows.length - 1].some((x) => x.stage !== "plan") || c.stage === "refine") rows.push([]);
    if (c.stage === "sketch" || c.stage === "refine") rows[rows.length - 1].push(...rejectedBefore(c));
    rows[rows.length - 1].push(c);
  }
  box.innerHTML = rows.map((row) => {
    const label = `R${row[0].round}`;
    return `<div class="sb-row"><div class="sb-rowlabel">${label}</div>${row.map(cardHtml).join("")}</div>`;
  }).join("");
  const chosen = box.querySelector(".sb-card.sel");
  if (chosen && S.scrollTo !== S.selected) {  // keep the selected card in view, scrolling the board only
    const top = chosen.offsetTop - box.offsetTop, bottom = top + chosen.offsetHeight;
    if (top < box.scrollTop || bottom > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, bottom - box.clientHeight + 8);
    S.scrollTo = S.selected;
  }
}
element.addEventListener("click", (e) => {
  const card = e.target.closest(".sb-board .sb-card, .sb-compare-grid .sb-card");
  if (card) select(card.dataset.id);
});
function select(id) {
  if (!S.cards[id]) return;
  if (!S.branch.includes(id)) { call("switch_branch", S.session.id, S.session.version, id, have()); return; }
  S.selected = id; remember(true); renderBoard(); renderTree(); renderCanvas(); renderPanel(); renderControls();
}

// ---- the branch tree ---------------------------------------------------------------------------------
function renderTree() {
  const box = $("#sb-tree");
  $("#sb-branch-count").textContent = S.branches.length ? `${S.branches.length} ${S.branches.length === 1 ? "branch" : "branches"}` : "";
  if (!S.tree.length) { box.innerHTML = `<p class="sb-empty">Forks appear here.</p>`; return; }
  const kids = {}, pos = {};
  for (const [id] of S.tree) { const p = S.cards[id].parent || "root"; (kids[p] = kids[p] || []).push(id); }
  let lanes = 0;
  const place = (id, depth, lane) => {
    pos[id] = {x: lane, y: depth};
    (kids[id] || []).forEach((child, i) => place(child, depth + 1, i === 0 ? lane : ++lanes));
  };
  (kids.root || []).forEach((id, i) => place(id, 0, i === 0 ? 0 : ++lanes));
  const dx = 40, dy = 34, ox = 20, oy = 16;
  const onBranch = new Set(S.branch);
  let lines = "", nodes = "";
  for (const [id] of S.tree) {
    const c = S.cards[id], p = pos[id], x = ox + p.x * dx, y = oy + p.y * dy;
    if (c.parent && pos[c.parent]) { const q = pos[c.parent]; lines += `<path d="M${ox + q.x * dx},${oy + q.y * dy} L${x},${oy + q.y * dy + 10} L${x},${y}" fill="none" stroke="${onBranch.has(id) ? "#6366f1" : "#cbd5e1"}" stroke-width="2"/>`; }
    const cls = `node${c.review === "rejected" ? " rejected" : ""}${onBranch.has(id) ? "" : " off"}${id === S.selected ? " sel" : ""}`;
    const tip = `${c.stage} · round ${c.round}${c.author === "human" ? " · by you" : ""}${c.review ? " · " + c.review : ""}${c.review_note ? ": " + iso(c.review_note) : ""}${id === S.session.head ? " · head" : ""}`;
    const shape = c.image && c.stage !== "inspect"
      ? `<rect class="frame" x="${x - 13}" y="${y - 13}" width="26" height="26" rx="4" fill="#fff" stroke="#94a3b8"/><image href="${c.image}" x="${x - 12}" y="${y - 12}" width="24" height="24"/>`
      : `<circle cx="${x}" cy="${y}" r="7" fill="${c.stage === "inspect" ? (c.passed ? "#15803d" : "#c62828") : c.stage === "plan" ? "#6366f1" : "#94a3b8"}" stroke="#fff"/>`;
    const head = id === S.session.head ? `<circle cx="${x}" cy="${y}" r="17" fill="none" stroke="#f59e0b" stroke-width="2" stroke-dasharray="3 2"/>` : "";
    nodes += `<g class="${cls}" data-id="${id}"><title>${esc(tip)}</title>${shape}${head}</g>`;
  }
  const w = ox * 2 + lanes * dx, h = oy * 2 + Math.max(...Object.values(pos).map((p) => p.y)) * dy;
  box.innerHTML = `<svg width="${w}" height="${h}">${lines}${nodes}</svg>`;
}
element.addEventListener("click", (e) => { const n = e.target.closest(".sb-tree .node"); if (n) select(n.dataset.id); });

// ---- the canvas: the selected image, large; evidence boxes; the region brush -------------------------
function shownImage() {
  const c = S.cards[S.selected];
  if (!c) return null;
  if (c.image) return c;
  const i = S.branch.indexOf(c.id);
  for (let j = i - 1; j >= 0; j--) { const o = S.cards[S.branch[j]]; if (o && o.image && o.stage !== "inspect") return o; }
  return null;
}
function renderCanvas() {
  const canvas = $("#sb-canvas"), img = $("#sb-image"), shown = shownImage(), preview = $("#sb-preview");
  preview.hidden = !(S.running && S.preview);
  if (S.running && S.preview) preview.src = S.preview;
  canvas.classList.toggle("empty", !shown && !(S.running && S.preview));
  canvas.classList.toggle("zoomed", S.zoom);
  $("#sb-canvas-empty").textContent = S.cards[S.selected]  // a plan before any sketch has no image to show
    ? "No image yet: the sketch of this plan will appear here." : "Select a card to see it here.";
  if (!shown) return;
  if (img.getAttribute("src") !== shown.image) { img.src = shown.image; clearPaint(); }
  const paint = $("#sb-paint");
  if (paint.width !== shown.width || paint.height !== shown.height) { paint.width = shown.width; paint.height = shown.height; }
  layout(shown);
  const c = S.cards[S.selected], svg = $("#sb-evidence");
  const boxes = c && c.stage === "inspect" && $("#sb-boxes").checked ? [c.plan_check, c.sketch_check].filter(Boolean) : [];
  svg.setAttribute("viewBox", `0 0 ${shown.width} ${shown.height}`);
  const s = Math.max(1, shown.width / 540);
  const drawBox = (b, col, dash) => {
    const [x0, y0, x1, y1] = b.box;
    return `<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="${col}" stroke-width="${(dash ? 2 : 3) * s}"${dash ? ` stroke-dasharray="${6 * s} ${4 * s}"` : ""}/>` +
      (b.label ? `<text x="${x0 + 3 * s}" y="${Math.max(14 * s, y0 - 4 * s)}" fill="${col}" style="font-size:${13 * s}px">${esc(b.label)}</text>` : "");
  };
  const names = c && c.stage !== "inspect" && $("#sb-labels").checked ? (shown.labels || []) : [];
  svg.innerHTML = boxes.map((check) => check.evidence.map((b) => drawBox(b, check.passed ? "#15803d" : "#c62828")).join("")).join("") +
    names.map((b) => drawBox(b, "#334155", true)).join("");
}
function layout(shown) {
  // The image is drawn with object-fit: contain; the evidence and paint layers sit exactly over its pixels.
  const stage = $(".sb-stage"), W = S.zoom ? shown.width : 540, H = S.zoom ? shown.height : 540;
  const scale = S.zoom ? 1 : Math.min(W / shown.width, H / shown.height);
  const w = shown.width * scale, h = shown.height * scale, left = (W - w) / 2, top = (H - h) / 2;
  stage.style.width = W + "px"; stage.style.height = H + "px";
  for (const layer of [$("#sb-evidence"), $("#sb-paint")]) Object.assign(layer.style, {left: left + "px", top: top + "px", width: w + "px", height: h + "px"});
  $("#sb-zoom").textContent = S.zoom ? "fit" : `${Math.round(scale * 100)}%`;  // the shown scale; a click shows 1:1
}
const brush = {tool: "brush", down: false, painted: false, last: null};
function clearPaint() { const p = $("#sb-paint"); p.getContext("2d").clearRect(0, 0, p.width, p.height); brush.painted = false; renderPanelHint(); }
function stroke(e) {
  const p = $("#sb-paint"), r = p.getBoundingClientRect();
  const x = (e.clientX - r.left) * p.width / r.width, y = (e.clientY - r.top) * p.height / r.height;
  const ctx = p.getContext("2d"), size = +$("#sb-size").value * p.width / r.width;
  ctx.globalCompositeOperation = brush.tool === "eraser" ? "destination-out" : "source-over";
  ctx.strokeStyle = ctx.fillStyle = "rgb(239,68,68)"; ctx.lineWidth = size; ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  if (brush.last) { ctx.moveTo(brush.last.x, brush.last.y); ctx.lineTo(x, y); ctx.stroke(); }
  else { ctx.arc(x, y, size / 2, 0, Math.PI * 2); ctx.fill(); }
  brush.last = {x, y};
  if (brush.tool === "brush") brush.painted = true;
}
$("#sb-paint").addEventListener("pointerdown", (e) => { brush.down = true; brush.last = null; $("#sb-paint").setPointerCapture(e.pointerId); stroke(e); });
$("#sb-paint").addEventListener("pointermove", (e) => { if (brush.down) stroke(e); });
$("#sb-paint").addEventListener("pointerup", () => { brush.down = false; brush.last = null; brush.painted = hasPaint(); renderPanelHint(); });
function hasPaint() { const p = $("#sb-paint"); if (!p.width) return false; const d = p.getContext("2d").getImageData(0, 0, p.width, p.height).data; for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }
$("#sb-brush").onclick = () => { brush.tool = "brush"; $("#sb-brush").classList.add("on"); $("#sb-eraser").classList.remove("on"); };
$("#sb-eraser").onclick = () => { brush.tool = "eraser"; $("#sb-eraser").classList.add("on"); $("#sb-brush").classList.remove("on"); };
$("#sb-clear").onclick = clearPaint;
$("#sb-zoom").onclick = () => { S.zoom = !S.zoom; renderCanvas(); };
$("#sb-boxes").onchange = renderCanvas;
$("#sb-labels").onchange = renderCanvas;

// ---- the panel: the selected step's own fields and actions ----------------------------------------
function field(name, fallback) { const d = S.dirty[S.selected]; return d && name in d ? d[name] : fallback; }
function renderPanel() {
  const box = $("#sb-panel"), c = S.cards[S.selected];
  if (!c) { box.innerHTML = ""; return; }
  const seen = S.seen[c.id];
  const fresh = seen && seen !== c.key && S.dirty[c.id] ? `<div class="sb-fresh">This step changed elsewhere; your unsaved text is kept below. Saved version: ${bdi(c.instruction || (c.sketch_check || {}).critique || (c.plan_check || {}).critique || "")}</div>` : "";
  if (!S.dirty[c.id]) S.seen[c.id] = c.key;
  const orig = c.original ? `<div class="sb-orig">Edited by ${bdi(who(c))}; the model wrote: ${Object.entries(c.original).map(([k, v]) => `${k}: ${bdi(v && typeof v === "object" ? (v.passed ? "pass " : "fail ") + (v.critique || "") : v)}`).join("; ")}</div>` : "";
  const head = `<h4>Round ${c.round} · ${c.stage} · ${c.author === "human" ? "by " + bdi(who(c)) : "by the model" + (c.annotator ? ", reviewed by " + bdi(who(c)) : "")}${c.seed != null && c.image ? ` · seed ${c.seed}` : ""}${c.elapsed != null ? ` · ${c.elapsed} s` : ""}</h4>${orig}${fresh}`;
  const fork = `<button data-do="fork" title="continue from here as a new branch">Rewind & fork here</button>`;
  const refine = `<textarea data-f="refine" rows="2" placeholder="&lt;refine&gt; your instruction, e.g. make the cup blue">${esc(field("refine", ""))}</textarea>
    <div class="sb-actions"><button data-do="refine">Refine</button><span class="sb-muted" id="sb-paint-hint"></span></div>`;
  let body = "";
  if (c.stage === "plan") {
    body = `<label>&lt;ins&gt; instruction<textarea data-f="instruction" rows="2">${esc(field("instruction", c.instruction))}</textarea></label>
      <label>&lt;des&gt; description<textarea data-f="description" rows="3">${esc(field("description", c.description))}</textarea></label>
      <div class="sb-actions"><button data-do="edit">Save plan edit</button>${fork}</div>
      <div class="sb-muted">${c.children ? "This plan was already drawn: saving starts a new branch beside it." : "Not drawn yet: saving changes it in place."}</div>`;
  } else if (c.stage === "inspect") {
    const check = (k, label) => { const v = c[k] || {passed: !c.unreadable, critique: ""};  // an unread check is not ticked as passed
      return `<div class="sb-check"><label><input type="checkbox" data-f="${k}_pass" ${field(k + "_pass", v.passed) ? "checked" : ""}> ${label} passes</label>
        <textarea data-f="${k}_crit" rows="2">${esc(field(k + "_crit", v.critique))}</textarea></div>`; };
    body = (c.unreadable ? `<div class="sb-fresh">The model's verdict could not be read (${bdi(c.unreadable)}); it counts as failed. Override it with your own checks, or refine.</div>` : "") +
      check("plan_check", "plan vs prompt") + check("sketch_check", "sketch vs instruction") +
      `<div class="sb-actions"><button data-do="override">Override verdict</button>${fork}</div>${refine}`;
  } else if (c.stage === "sketch" || c.stage === "refine") {
    body = (c.stage === "refine" ? `<div><b>&lt;refine&gt;</b> ${bdi(c.instruction)}</div>` : "") +
      (c.review === "rejected" ? `<div class="sb-muted">Rejected${c.review_note ? ": " + bdi(c.review_note) : ""}; kept as a label for training.</div>` : "") +
      `<div class="sb-actions"><button data-do="accept" title="a">Accept</button>
        <input data-f="reason" placeholder="why reject? (kept as a label)" value="${esc(field("reason", ""))}">
        <button data-do="reject" title="x">Reject & redraw</button>${fork}</div>${refine}`;
  } else if (c.stage === "final") {
    body = `<div class="sb-actions"><button data-do="accept">Accept</button><a href="${esc(c.image)}" download="stroke-studio-final.png">Download PNG</a>${fork}</div>`;
  }
  const rate = c.image && c.stage !== "inspect" && c.review !== "rejected" ? rateHtml(c) : "";
  box.innerHTML = head + rate + body;
  renderPanelHint();
}
function rateHtml(c) {
  const mine = (c.judgements || []).find((j) => j.kind === "rating" && S.me && j.annotator === S.me.name);
  const others = (c.judgements || []).filter((j) => j.kind === "rating" && j !== mine);
  const btn = (v, label, title) => `<button data-rate="${v}" class="sb-rate${mine && mine.value === v ? " on" : ""}" title="${title}">${label}</button>`;
  return `<div class="sb-rating"><span>Rate</span>${btn("up", "▲ good", "thumbs up")}${btn("down", "▼ bad", "thumbs down")}<span class="sb-sep"></span>` +
    ["1", "2", "3", "4", "5"].map((v) => btn(v, v, `${v} of 5`)).join("") +
    `<input data-f="rating_note" placeholder="note (optional)" value="${esc(field("rating_note", mine ? mine.note : ""))}"></div>` +
    (others.length ? `<div class="sb-muted">${others.map((j) => `${bdi(j.annotator)}: ${ratingText(j)}${j.note ? " — " + bdi(j.note) : ""}`).join(" · ")}</div>` : "");
}
element.addEventListener("click", async (e) => {
  const b = e.target.closest("#sb-panel [data-rate]");
  if (!b || b.disabled || !S.session) return;
  const id = S.selected;
  if (await call("rate", S.session.id, id, b.dataset.rate, value("rating_note"), have())) {
    if (S.dirty[id]) { delete S.dirty[id].rating_note; if (!Object.keys(S.dirty[id]).length) delete S.dirty[id]; }
    delete S.seen[id]; renderPanel();  // our own rating changed the card: not a change made elsewhere
  }
});
function renderPanelHint() {
  const hint = $("#sb-paint-hint"); if (!hint) return;
  const engine = (props.engines || []).find((e) => S.session && e.name === S.session.engine);
  hint.textContent = brush.painted ? "only the painted region will change" : engine && engine.region ? "paint on the image to limit the refine to a region" : "";
}
element.addEventListener("input", (e) => {
  const f = e.target.dataset && e.target.dataset.f;
  if (!f || !S.selected) return;
  (S.dirty[S.selected] = S.dirty[S.selected] || {})[f] = e.target.type === "checkbox" ? e.target.checked : e.target.value;
});
element.addEventListener("change", (e) => { if (e.target.type === "checkbox" && e.target.dataset.f) e.target.dispatchEvent(new Event("input", {bubbles: true})); });
function value(f) { const el = $(`#sb-panel [data-f="${f}"]`); return el ? (el.type === "checkbox" ? el.checked : el.value) : ""; }
async function act(what) {
  if (!S.session || S.running) return;
  const id = S.selected, s = S.session, c = S.cards[id];
  const done = (r) => { if (r) { delete S.dirty[id]; delete S.seen[id]; renderPanel(); } };
  if (what === "edit") done(await call("edit_plan", s.id, s.version, id, value("instruction"), value("description"), have()));
  else if (what === "override") done(await call("override", s.id, s.version, id, value("plan_check_pass"), value("plan_check_crit"), value("sketch_check_pass"), value("sketch_check_crit"), have()));
  else if (what === "accept") done(await call("accept", s.id, s.version, id, have()));
  else if (what === "fork") await call("fork", s.id, s.version, id, have());
  else if (what === "reject") { work("reject", {step_id: id, note: value("reason")}); delete S.dirty[id]; }
  else if (what === "refine") {
    const text = value("refine");
    if (!text.trim()) { toast("Write what to fix first, e.g. “make the cup blue”."); return; }
    const region = brush.painted && c && (c.image || shownImage()) ? $("#sb-paint").toDataURL("image/png") : "";
    work("refine", {step_id: id, instruction: text, region}); delete S.dirty[id];
  }
}
element.addEventListener("click", (e) => { const b = e.target.closest("#sb-panel [data-do]"); if (b && !b.disabled) act(b.dataset.do); });

// ---- the left column: prompt, settings, run controls ------------------------------------------------
function count() {
  const n = $("#sb-prompt").value.length, max = props.max_prompt;
  $("#sb-count").textContent = `${n.toLocaleString()} / ${max.toLocaleString()}`;
  $("#sb-count").classList.toggle("over", n > max);
  renderControls();
}
$("#sb-prompt").addEventListener("input", () => { $("#sb-prompt").dataset.touched = "1"; count(); });
function renderControls() {
  const s = S.session, busy = S.running, over = $("#sb-prompt").value.length > props.max_prompt;
  $("#sb-new").disabled = busy || over || !$("#sb-prompt").value.trim();
  $("#sb-new").title = over ? `The prompt is over ${props.max_prompt} characters; shorten it.` : "";
  $("#sb-step").disabled = !s || busy || s.finished;
  $("#sb-run").disabled = !s || busy || s.finished;
  $("#sb-step").title = s && s.finished ? "This branch is finished: rewind & fork a step to continue" : "s";
  $("#sb-stop").disabled = !busy;
  $$("#sb-panel button, #sb-panel textarea, #sb-panel input").forEach((b) => { b.disabled = busy; });
  for (const b of $$(".sb-gallery-bar button")) b.disabled = busy && b.id !== "sb-export";
}
function renderProgress() {
  const bar = $("#sb-progress");
  bar.hidden = !S.running;
  const p = S.progress || {fraction: 0, message: "starting…"};
  bar.querySelector(".sb-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
  bar.querySelector(".sb-bar-label").textContent = p.message || "";
  if (S.running) setStatus(`running: ${p.message || "…"}`);
}
$("#sb-engine").innerHTML = (props.engines || []).map((e) => `<option value="${esc(e.name)}" ${e.name === props.default_engine ? "selected" : ""}>${esc(e.name)}${e.ok ? "" : " (not installed)"}</option>`).join("");
const engineNote = () => { const e = (props.engines || []).find((x) => x.name === $("#sb-engine").value); $("#sb-engine-note").textContent = e ? e.note : ""; };
$("#sb-engine").onchange = engineNote; engineNote();
$("#sb-pause").innerHTML = (props.pauses || []).map(([v, label]) => `<option value="${v}" ${v === props.default_pause ? "selected" : ""}>${esc(label)}</option>`).join("");
$("#sb-rounds").value = props.default_rounds;
$("#sb-format").innerHTML = (props.formats || []).map((f) => `<option ${f === "folder" ? "selected" : ""}>${esc(f)}</option>`).join("");
$("#sb-help").innerHTML = "<b>Keyboard shortcuts</b><br>" + (props.shortcuts || []).map(([k, what]) => `<kbd>${esc(k)}</kbd>${esc(what)}`).join("<br>");
$("#sb-help-btn").onclick = () => { $("#sb-help").hidden = !$("#sb-help").hidden; };
$("#sb-toast").onclick = () => { $("#sb-toast").hidden = true; };
$("#sb-new").onclick = async () => {
  const seed = $("#sb-seed").value.trim();
  $("#sb-prompt").dataset.touched = "";
  const r = await call("new_session", $("#sb-prompt").value, $("#sb-engine").value, seed === "" ? null : seed, seed === "", $("#sb-rounds").value, $("#sb-mode").value, $("#sb-params").value);
  if (r) remember(true);
};
$("#sb-step").onclick = () => work("step");
$("#sb-run").onclick = () => work("run", {pause: $("#sb-pause").value});
$("#sb-stop").onclick = async () => { if (S.session) { const r = await server.stop([S.session.id]); setStatus(r.note || r.error); } };

// ---- keyboard -------------------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName) || $(".sb-studio").hidden) return;
  const i = S.branch.indexOf(S.selected);
  const keys = {s: () => $("#sb-step").click(), r: () => $("#sb-run").click(), a: () => act("accept"), x: () => act("reject"),
    j: () => S.branch[i + 1] && select(S.branch[i + 1]), k: () => i > 0 && select(S.branch[i - 1]),
    b: () => { $("#sb-boxes").checked = !$("#sb-boxes").checked; renderCanvas(); },
    n: () => { $("#sb-labels").checked = !$("#sb-labels").checked; renderCanvas(); }, "?": () => $("#sb-help-btn").click()};
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
});

// ---- views: studio, sessions gallery, compare -------------------------------------------------------
function show(view) {
  $$(".sb-tab").forEach((t) => t.classList.toggle("on", t.dataset.view === view));
  $$(".sb-view").forEach((v) => { v.hidden = v.dataset.view !== view; });
  if (view === "sessions") search();
  if (view === "compare") renderCompare();
}
$$(".sb-tab").forEach((t) => { t.onclick = () => show(t.dataset.view); });
async function search() {
  const [found, batches] = await Promise.all([call("list_sessions", $("#sb-search").value, $("#sb-batch").value),
                                              call("list_batches")]);
  if (batches) {
    const chosen = $("#sb-batch").value;
    $("#sb-batch").innerHTML = `<option value="">all sessions</option>` + batches.map((b) => `<option value="${esc(b)}">${esc(b)}</option>`).join("");
    $("#sb-batch").value = batches.includes(chosen) ? chosen : "";
  }
  if (found) { S.gallery = found; renderGallery(); }
}
$("#sb-batch").onchange = search;
let typing;
$("#sb-search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(search, 250); });
function renderGallery() {
  const box = $("#sb-gallery");
  if (!S.gallery.length) { box.innerHTML = `<p class="sb-empty">${$("#sb-search").value ? "No session matches." : "No sessions yet."}</p>`; return; }
  box.innerHTML = S.gallery.map((g) => `<div class="sb-gcard${g.id === S.picked ? " sel" : ""}${S.session && g.id === S.session.id ? " open" : ""}" data-id="${g.id}">
    ${g.thumb ? `<img loading="lazy" src="${esc(g.thumb)}" alt="">` : `<div class="noimg"></div>`}
    <div class="t">${bdi(g.title || g.prompt)}</div><div class="p">${bdi(g.prompt)}</div>
    <div class="sb-muted">${S.me && S.me.login && g.owner ? `${g.owner === S.me.name ? "yours" : bdi(g.owner)}${g.shared ? ", shared" : ", private"} · ` : ""}${esc(g.engine)} · ${new Date(g.updated * 1000).toLocaleString()} · ${g.rounds} ${g.rounds === 1 ? "round" : "rounds"} · ${esc(g.state)}</div></div>`).join("");
}
element.addEventListener("click", (e) => {
  const g = e.target.closest(".sb-gcard"); if (!g) return;
  S.picked = g.dataset.id;  // mark, without redrawing: a double click must land on the same card
  $$(".sb-gcard").forEach((card) => card.classList.toggle("sel", card.dataset.id === S.picked));
  const chosen = S.gallery.find((x) => x.id === S.picked); $("#sb-new-title").value = chosen ? chosen.title : "";
});
element.addEventListener("dblclick", (e) => { if (e.target.closest(".sb-gcard")) $("#sb-open").click(); });
const picked = () => { if (!S.picked) toast("Select a session card first.", "warn"); return S.picked; };
$("#sb-open").onclick = async () => { const id = picked(); if (id && await call("open_session", id, "", [])) { remember(true); show("studio"); } };
$("#sb-rename").onclick = async () => {
  const id = picked(); if (!id) return;
  const r = await server.rename([id, null, $("#sb-new-title").value, []]);
  if (r.error) { toast(r.error); return; }
  if (S.session && S.session.id === id) { S.session.title = r.session.title; S.session.version = r.session.version; renderHead(); }
  toast(r.note, "info"); search();
};
$("#sb-delete").onclick = async () => {
  const id = picked(); if (!id) return;
  const g = S.gallery.find((x) => x.id === id);
  if (!window.confirm(`Delete “${iso(g ? g.title || g.prompt : id)}” and its images? This cannot be undone.`)) return;
  const r = await server.delete([id]);
  if (r.error) { toast(r.error); return; }
  if (S.session && S.session.id === id) { apply({full: true, session: null, note: r.note}); remember(); }
  toast(r.note, "info"); S.picked = null; search();
};
$("#sb-export").onclick = async () => {
  const scope = element.querySelector("input[name=sb-scope]:checked").value;
  const r = await call("export", S.session ? S.session.id : "", $("#sb-format").value, scope);
  if (!r) return;
  const parts = Object.entries(r.subsets).map(([k, n]) => `${k}: ${n}`).join(", ");
  $("#sb-export-report").innerHTML = `${esc(r.note)} — ${esc(parts)} · <a href="${esc(r.url)}" download>download the zip</a>`;
};
$("#sb-png").onchange = async (e) => {
  const file = e.target.files[0]; if (!file) return;
  const sent = await upload(file);
  if (await call("import_png", sent.path)) { remember(true); show("studio"); }
  e.target.value = "";
};
function renderCompareChoices() {
  const opts = S.branches.map((b) => `<option value="${b.leaf}">${esc(b.label)}</option>`).join("");
  const kept = [$("#sb-left").value, $("#sb-right").value];
  const keep = kept[0] !== kept[1] && kept.every((leaf) => S.branches.some((b) => b.leaf === leaf));
  [["#sb-left", 0], ["#sb-right", S.branches.length - 1]].forEach(([sel, pick], i) => {
    $(sel).innerHTML = opts;  // two different branches stay chosen; otherwise the first and the newest
    $(sel).value = keep ? kept[i] : (S.branches[pick] || {}).leaf || "";
  });
  if (!$(".sb-compare").hidden) renderCompare();
}
$("#sb-left").onchange = $("#sb-right").onchange = () => renderCompare();
function pathTo(leaf) { const out = []; let id = leaf; while (id && S.cards[id]) { out.unshift(S.cards[id]); id = S.cards[id].parent; } return out; }
function renderCompare() {
  const box = $("#sb-compare");
  if (!S.session || S.branches.length < 1) { box.innerHTML = `<p class="sb-empty">Open a session with two branches (rewind & fork a step) to compare them.</p>`; return; }
  const left = pathTo($("#sb-left").value), right = pathTo($("#sb-right").value);
  const rounds = [...new Set([...left, ...right].map((c) => c.round))].sort((a, b) => a - b);
  const shared = new Set(left.filter((c) => right.includes(c)).map((c) => c.id));
  box.innerHTML = `<div class="head"></div><div class="head">${esc($("#sb-left").selectedOptions[0]?.text || "")}</div><div class="head">${esc($("#sb-right").selectedOptions[0]?.text || "")}</div>` +
    rounds.map((r) => `<div class="sb-muted">R${r}</div>` + [left, right].map((side) =>
      `<div class="side">${side.filter((c) => c.round === r).map((c) => `<span class="${shared.has(c.id) ? "same" : ""}">${cardHtml(c)}</span>`).join("")}</div>`).join("") +
      preferHtml(left, right, r, shared)).join("");
}
function lastImage(side, r) { return side.filter((c) => c.round === r && c.image && c.stage !== "inspect" && c.review !== "rejected").pop(); }
function preferHtml(left, right, r, shared) {
  const a = lastImage(left, r), b = lastImage(right, r);
  if (!a || !b || a.id === b.id || shared.has(a.id) && shared.has(b.id)) return "";
  // a pair judged with the sides the other way round reads flipped here
  const flip = {left: "right", right: "left", tie: "tie"};
  const said = (a.judgements || []).filter((j) => j.kind === "preference" && j.other === b.id)
    .map((j) => ({...j, value: j.side === "left" ? j.value : flip[j.value]}));
  const mine = said.find((j) => S.me && j.annotator === S.me.name);
  const words = {left: "left is better", right: "right is better", tie: "tie"};
  const btn = (v, label) => `<button data-prefer="${v}" data-left="${a.id}" data-right="${b.id}" class="${mine && mine.value === v ? "on" : ""}">${label}</button>`;
  const others = said.filter((j) => j !== mine).map((j) => `${bdi(j.annotator)}: ${words[j.value] || j.value}`).join(" · ");
  return `<div class="sb-prefer"><span class="sb-muted">Which ${a.stage === "final" && b.stage === "final" ? "final" : `R${r} image`} is better?</span>` +
    `${btn("left", "◀ Left")}${btn("tie", "Tie")}${btn("right", "Right ▶")}${others ? `<span class="sb-muted">${others}</span>` : ""}</div>`;
}
element.addEventListener("click", async (e) => {
  const b = e.target.closest("[data-prefer]");
  if (!b || !S.session) return;
  const r = await call("prefer", S.session.id, b.dataset.left, b.dataset.right, b.dataset.prefer, "");
  if (r) { await call("open_session", S.session.id, S.selected || "", have()); setStatus(r.note); }  // fresh cards, then the note
});

// ---- start: the session in the URL, if any --------------------------------------------------------------
$("#sb-boxes").checked = true;
call("whoami").then((me) => { S.me = me; if (me) $("#sb-me").innerHTML = me.login ? `${bdi(me.name)} · ${esc(me.role)}` : ""; render(); });
count();
render();
restore();
