// The page's shared core: what the server sent (S), the one way to call it (`call`, `work`), merging a
// reply (`apply`), the status line, the URL, and the helpers every drawing uses (esc, bdi, iso, toast).
// All the page's scripts run as one js_on_load body (joined by studio.ui.build_ui), with gr.HTML's
// element, props, trigger, server, watch and upload in scope. Logic about the loop stays on the server.
const $ = (sel) => element.querySelector(sel);
const $$ = (sel) => Array.from(element.querySelectorAll(sel));
const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ENTITIES[c]);
// People's text (titles, prompts, plans, critiques, notes, names) is isolated from what surrounds it, so a
// right-to-left override inside it cannot reverse the page's own words: <bdi> in HTML, FSI…PDI in plain text.
const bdi = (s) => `<bdi>${esc(s)}</bdi>`;
const iso = (s) => "\u2068" + String(s ?? "") + "\u2069";
const S = {
  session: null, cards: {}, tree: [], branch: [], branches: [], selected: null, running: false,
  progress: null, preview: null, dirty: {}, seen: {}, gallery: [], picked: null, seq: 0, zoom: false,
  me: null, branchesKey: "", pending: null,
};

// ---- talking to the server -------------------------------------------------------------------------
// What the page holds, as the server's keys: a key per card, and the branch list's (studio.ui.board).
function have() {
  const keys = Object.values(S.cards).map((c) => c.key);
  return S.branchesKey ? [...keys, "branches:" + S.branchesKey] : keys;
}
function toast(message, kind = "error") {
  const box = $("#sb-toast");
  box.textContent = message; box.className = "sb-toast " + (kind === "error" ? "" : kind); box.hidden = false;
  box.classList.toggle("low", !$(".sb-sessions").hidden);  // over the gallery's cards, never its bars
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 9000 : 4000);
}
// One server function, called with its named fields, e.g.
//   call("accept", {session_id: S.session.id, version: S.session.version, step_id: id, have: have()})
// A view is merged (`apply`) and returned; plain data ({result}) is returned as it is; a failure is toasted
// and gives null.
async function call(name, fields = {}) {
  let reply;
  try {
    reply = await server[name](fields);
  } catch (e) {
    toast("The studio server did not answer; is it still running?"); return null;
  }
  if (reply && reply.error) { toast(reply.error); if (reply.full) apply(reply); return null; }
  if (reply && "result" in reply) return reply.result;
  apply(reply);
  return reply && reply.conflict ? null : reply;  // a conflict acted on nothing: typed text stays unsaved
}
// Model work on the open session (step, run, reject, refine), streamed back as views; `fields` are the
// action's own named fields beside the session, its version and the cards held.
// `typed`: the panel fields this action sends, cleared only once the server has done it (a conflict or an
// error keeps them where they were typed).
function work(action, fields = {}, typed = []) {
  if (!S.session || S.running) return;
  S.running = true; S.seq += 1; renderControls();
  S.pending = typed.length ? {seq: S.seq, id: S.selected, typed} : null;
  const s = S.session;
  trigger("submit", {action, seq: S.seq, session_id: s.id, version: s.version, have: have(), ...fields});
}
watch("value", () => { if (props.value) apply(props.value); });

// ---- merging a view --------------------------------------------------------------------------------
function apply(v) {
  if (!v) return;
  if (S.pending && v.seq === S.pending.seq) settle(v);
  if (v.error) toast(v.error);
  if (v.error && v.seq !== undefined && !v.full) {  // the work failed: say so where "running: …" was
    S.running = false; S.progress = null; S.preview = null; render();
    setStatus(statusText(v.error)); return;
  }
  if (v.conflict) toast(v.conflict, "warn");
  if (v.progress !== undefined && v.progress) S.progress = v.progress;
  if (v.preview) S.preview = v.preview;
  if (v.note) setStatus(v.note);
  if (!v.full && v.session && S.session && v.session.id === S.session.id) {  // model work done, nothing new to draw
    S.session = v.session; S.running = false; S.progress = null; S.preview = null;
    if (v.selected) S.selected = v.selected;
    setStatus(statusText(v.note)); remember(); render(); return;
  }
  if (!v.full) {
    if (v.running) { S.running = true; }
    renderControls(); renderProgress(); renderCanvas(); return;
  }
  if (v.session) {
    const other = !S.session || S.session.id !== v.session.id;
    if (other) { S.cards = {}; S.dirty = {}; S.seen = {}; }
    S.session = v.session;
    if (v.tree) {  // the whole tree; without it, the cards sent are all that changed (steps are never removed)
      const keep = new Set(v.tree.map((t) => t[0]));
      for (const id of Object.keys(S.cards)) if (!keep.has(id)) delete S.cards[id];
    }
    Object.assign(S.cards, v.cards);
    S.tree = v.tree || Object.values(S.cards).map((c) => [c.id, c.key]);
    S.branch = v.branch || pathIds(v.session.head);
    if (v.branches) { S.branches = v.branches; S.branchesKey = v.branches_key; }
    if (v.selected && (other || v.note !== "reloaded")) S.selected = v.selected;
    if (!S.cards[S.selected]) S.selected = S.branch[S.branch.length - 1] || null;
  } else {
    S.session = null; S.cards = {}; S.tree = []; S.branch = []; S.branches = []; S.selected = null;
    S.branchesKey = "";
  }
  S.running = !!v.running;
  if (!S.running) { S.progress = null; S.preview = null; }
  if (v.note && !v.running) setStatus(statusText(v.note));
  remember();
  render();
}
// The step ids from the first step to `head`, following each card's parent.
function pathIds(head) {
  const out = [];
  for (let id = head; id && S.cards[id]; id = S.cards[id].parent) out.unshift(id);
  return out;
}
// The typed text of the model work in flight: kept when it was refused, dropped once it was done.
function settle(v) {
  const p = S.pending;
  if (v.conflict || v.error) { S.pending = null; return; }
  if (v.full ? v.running : !v.session) return;  // still drawing
  S.pending = null;
  const d = S.dirty[p.id];
  if (d) { for (const f of p.typed) delete d[f]; if (!Object.keys(d).length) delete S.dirty[p.id]; }
  delete S.seen[p.id];
}
function statusText(note) {
  if (!S.session) return note;
  const s = S.session;
  const steps = `${s.steps} ${s.steps === 1 ? "step" : "steps"}`;
  const where = s.steps ? `${steps}, round ${s.rounds} of ${s.max_rounds}` : "no steps yet";
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
  if (!id && step) { toast("This link names a step but no session; open the session under Sessions.", "warn"); return; }
  if (id && (!S.session || S.session.id !== id)) { call("open_session", {session_id: id, step_id: step, have: []}); return; }
  const found = step && Object.keys(S.cards).filter((c) => c.startsWith(step.toLowerCase()));  // a short id, too
  if (found && found.length === 1) { S.selected = found[0]; render(); }
}

// ---- drawing: every region, from S ----------------------------------------------------------------------
function render() {
  renderHead(); renderSettings(); renderBoard(); renderTree(); renderCanvas(); renderPanel(); renderControls();
  renderProgress();
  renderCompareChoices();
}
