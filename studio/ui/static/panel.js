// The panel under the canvas: the selected step's own fields and actions — edit a plan, override a
// verdict, accept or reject a sketch, refine, rewind & fork, rate. Text typed there is kept (S.dirty) until
// the server took it, and survives a redraw or a change made in another tab.
function field(name, fallback) { const d = S.dirty[S.selected]; return d && name in d ? d[name] : fallback; }
function renderPanel() {
  const box = $("#sb-panel"), c = S.cards[S.selected];
  if (!c) { box.innerHTML = ""; return; }
  const fresh = freshHtml(c);
  if (!S.dirty[c.id]) S.seen[c.id] = c.key;
  const rate = c.image && c.stage !== "inspect" && c.review !== "rejected" ? rateHtml(c) : "";
  box.innerHTML = panelHead(c) + answerHtml(c) + offBranchHtml(c) + originalHtml(c) + fresh + rate + panelBody(c);
  renderPanelHint();
}
function freshHtml(c) {
  const seen = S.seen[c.id];
  if (!(seen && seen !== c.key && S.dirty[c.id])) return "";
  const saved = c.instruction || (c.sketch_check || {}).critique || (c.plan_check || {}).critique || "";
  const was = saved ? ` Saved version: ${bdi(saved)}` : "";
  return `<div class="sb-fresh">This step changed elsewhere; your unsaved text is kept below.${was}</div>`;
}
// After another tab moved the session to another branch, the step still selected here is not on the board.
function offBranchHtml(c) {
  if (!S.session || S.branch.includes(c.id)) return "";
  return `<div class="sb-fresh" id="sb-off-branch">This step is not on the branch the storyboard shows (it changed ` +
    `in another tab); your unsaved text is kept. <button data-do="show-branch">Show its branch</button> ` +
    `or pick a step on the storyboard.</div>`;
}
function originalHtml(c) {
  if (!c.original) return "";
  const said = (v) => (v && typeof v === "object" ? (v.passed ? "pass " : "fail ") + (v.critique || "") : v);
  const parts = Object.entries(c.original).map(([k, v]) => `${k}: ${bdi(said(v))}`).join("; ");
  return `<div class="sb-orig">Edited by ${bdi(who(c))}; the model wrote: ${parts}</div>`;
}
function panelHead(c) {
  const model = "by the model" + (c.annotator ? ", reviewed by " + bdi(who(c)) : "");
  const by = c.author === "human" ? "by " + bdi(who(c)) : model;
  const seed = c.seed != null && c.image ? ` · seed ${c.seed}` : "";
  const took = c.elapsed != null ? ` · ${c.elapsed} s` : "";
  return `<h4>Round ${c.round} · ${c.stage} · ${by}${seed}${took}</h4>`;
}
const FORK = `<button data-do="fork" title="continue from here as a new branch">Rewind & fork here</button>`;
function panelBody(c) {
  if (c.stage === "plan") return planFields(c);
  if (c.stage === "inspect") return verdictFields(c);
  if (c.stage === "sketch" || c.stage === "refine") return imageFields(c);
  if (c.stage === "final") {
    const download = `<a class="sb-button" href="${esc(c.image)}" download="${esc(fileName())}">Download PNG</a>`;
    return `<div class="sb-actions"><button data-do="accept">Accept</button>${download}${FORK}</div>`;
  }
  return "";
}
// The final's file name, from the session's title (or prompt): "Tulip study" → tulip-study.png.
function fileName() {
  const s = S.session || {};
  const words = String(s.title || s.prompt || "").toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  const name = words.join("-").slice(0, 60).replace(/-+$/, "");
  return (name || "stroke-studio-final") + ".png";
}
function refineFields() {
  const hint = "&lt;refine&gt; your instruction, e.g. make the cup blue";
  const paint = `<span class="sb-muted" id="sb-paint-hint"></span>`;
  return `<div class="sb-refine"><textarea data-f="refine" rows="2" placeholder="${hint}">${esc(field("refine", ""))}</textarea>
    <div class="sb-refine-go"><button data-do="refine">Refine</button>${paint}</div></div>`;
}
function planFields(c) {
  const drawn = c.children
    ? "This plan was already drawn: saving starts a new branch beside it."
    : "Not drawn yet: saving changes it in place.";
  const ins = `<textarea data-f="instruction" rows="2">${esc(field("instruction", c.instruction))}</textarea>`;
  const des = `<textarea data-f="description" rows="3">${esc(field("description", c.description))}</textarea>`;
  return `<label>&lt;ins&gt; instruction${ins}</label>
      <label>&lt;des&gt; description${des}</label>
      <div class="sb-actions"><button data-do="edit">Save plan edit</button>${FORK}</div>
      <div class="sb-muted">${drawn}</div>`;
}
function verdictFields(c) {
  const unread = c.unreadable
    ? `<div class="sb-fresh">The model's verdict could not be read (${bdi(c.unreadable)}); it counts as failed. ` +
      `Override it with your own checks, or refine.</div>`
    : "";
  const checks = checkFields(c, "plan_check", "plan vs prompt") +
    checkFields(c, "sketch_check", "sketch vs instruction");
  return unread + checks +
    `<div class="sb-actions"><button data-do="override">Override verdict</button>${FORK}</div>${refineFields()}`;
}
function checkFields(c, k, label) {
  const v = c[k] || {passed: !c.unreadable, critique: ""};  // an unread check is not ticked as passed
  const ticked = field(k + "_pass", v.passed) ? "checked" : "";
  return `<div class="sb-check"><label><input type="checkbox" data-f="${k}_pass" ${ticked}> ${label} passes</label>
        <textarea data-f="${k}_crit" rows="2">${esc(field(k + "_crit", v.critique))}</textarea></div>`;
}
function imageFields(c) {
  const asked = c.stage === "refine" && ownText(c) ? `<div><b>&lt;refine&gt;</b> ${bdi(c.instruction)}</div>` : "";
  const why = c.review_note ? ": " + bdi(c.review_note) : "";
  const rejected = c.review === "rejected"
    ? `<div class="sb-muted">Rejected${why}; kept as a label for training.</div>` : "";
  return asked + rejected + `<div class="sb-actions"><button data-do="accept" title="a">Accept</button>
        <input data-f="reason" placeholder="why reject?" title="the reason is kept with the image as a label" value="${esc(field("reason", ""))}">
        <button data-do="reject" title="x">Reject & redraw</button>${FORK}</div>${refineFields()}`;
}

// ---- rating the selected image -----------------------------------------------------------------------------
function rateHtml(c) {
  const mine = (c.judgements || []).find((j) => j.kind === "rating" && S.me && j.annotator === S.me.name);
  const others = (c.judgements || []).filter((j) => j.kind === "rating" && j !== mine);
  const btn = (v, label, title) => {
    const on = mine && mine.value === v ? " on" : "";
    return `<button data-rate="${v}" class="sb-rate${on}" title="${title}">${label}</button>`;
  };
  const note = esc(field("rating_note", mine ? mine.note : ""));
  const said = (j) => `${bdi(j.annotator)}: ${ratingText(j)}${j.note ? " — " + bdi(j.note) : ""}`;
  const thumbs = btn("up", "▲ good", "thumbs up") + btn("down", "▼ bad", "thumbs down");
  return `<div class="sb-rating"><span>Rate</span>${thumbs}<span class="sb-sep"></span>` +
    ["1", "2", "3", "4", "5"].map((v) => btn(v, v, `${v} of 5`)).join("") +
    `<input data-f="rating_note" placeholder="note (optional)" value="${note}"></div>` +
    (others.length ? `<div class="sb-muted">${others.map(said).join(" · ")}</div>` : "");
}
element.addEventListener("click", async (e) => {
  const b = e.target.closest("#sb-panel [data-rate]");
  if (!b || b.disabled || !S.session) return;
  const id = S.selected;
  const rating = {value: b.dataset.rate, note: value("rating_note")};
  if (await call("rate", {session_id: S.session.id, step_id: id, ...rating, have: have()})) {
    if (S.dirty[id]) { delete S.dirty[id].rating_note; if (!Object.keys(S.dirty[id]).length) delete S.dirty[id]; }
    delete S.seen[id]; renderPanel();  // our own rating changed the card: not a change made elsewhere
  }
});
function renderPanelHint() {
  const hint = $("#sb-paint-hint"); if (!hint) return;
  const engine = (props.engines || []).find((e) => S.session && e.name === S.session.engine);
  const region = engine && engine.region ? "paint on the image to limit the refine to a region" : "";
  hint.textContent = brush.painted ? "only the painted region will change" : region;
}

// ---- typed text and the panel's actions ----------------------------------------------------------------------
element.addEventListener("input", (e) => {
  const f = e.target.dataset && e.target.dataset.f;
  if (!f || !S.selected) return;
  const typed = e.target.type === "checkbox" ? e.target.checked : e.target.value;
  (S.dirty[S.selected] = S.dirty[S.selected] || {})[f] = typed;
});
element.addEventListener("change", (e) => {
  if (e.target.type === "checkbox" && e.target.dataset.f) e.target.dispatchEvent(new Event("input", {bubbles: true}));
});
function value(f) {
  const el = $(`#sb-panel [data-f="${f}"]`);
  return el ? (el.type === "checkbox" ? el.checked : el.value) : "";
}
async function act(what) {
  if (!S.session || S.running) return;
  const id = S.selected, s = S.session, c = S.cards[id];
  const at = {session_id: s.id, version: s.version, step_id: id};
  const done = (r) => { if (r) { delete S.dirty[id]; delete S.seen[id]; renderPanel(); } };
  if (what === "edit") {
    const plan = {instruction: value("instruction"), description: value("description")};
    done(await call("edit_plan", {...at, ...plan, have: have()}));
  } else if (what === "override") {
    const checks = {
      plan_passed: value("plan_check_pass"), plan_critique: value("plan_check_crit"),
      sketch_passed: value("sketch_check_pass"), sketch_critique: value("sketch_check_crit"),
    };
    done(await call("override", {...at, ...checks, have: have()}));
  } else if (what === "accept") done(await call("accept", {...at, have: have()}));
  else if (what === "fork") await call("fork", {...at, have: have()});
  else if (what === "reject") work("reject", {step_id: id, note: value("reason")}, ["reason"]);
  else if (what === "show-branch") await call("switch_branch", {...at, have: have()});
  else if (what === "refine") {
    const text = value("refine");
    if (!text.trim()) { toast("Write what to fix first, e.g. “make the cup blue”."); return; }
    const region = brush.painted && c && (c.image || shownImage()) ? $("#sb-paint").toDataURL("image/png") : "";
    work("refine", {step_id: id, instruction: text, region}, ["refine"]);
  }
}
element.addEventListener("click", (e) => {
  const b = e.target.closest("#sb-panel [data-do]");
  if (b && !b.disabled) act(b.dataset.do);
});
