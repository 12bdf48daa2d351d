// Compare branches: two branches of the open session side by side, round by round (steps they share are
// marked), with a "which is better?" choice under each round whose last images differ.
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
// The steps from the first one to `leaf`, in order.
function pathTo(leaf) {
  const out = [];
  for (let id = leaf; id && S.cards[id]; id = S.cards[id].parent) out.unshift(S.cards[id]);
  return out;
}
function renderCompare() {
  const box = $("#sb-compare");
  if (!S.session || S.branches.length < 1) {
    const hint = "Open a session with two branches (rewind & fork a step) to compare them.";
    box.innerHTML = `<p class="sb-empty">${hint}</p>`; return;
  }
  const left = pathTo($("#sb-left").value), right = pathTo($("#sb-right").value);
  const rounds = [...new Set([...left, ...right].map((c) => c.round))].sort((a, b) => a - b);
  const shared = new Set(left.filter((c) => right.includes(c)).map((c) => c.id));
  const label = (sel) => `<div class="head">${esc($(sel).selectedOptions[0]?.text || "")}</div>`;
  box.innerHTML = `<div class="head"></div>${label("#sb-left")}${label("#sb-right")}` +
    rounds.map((r) => compareRound(left, right, r, shared)).join("");
}
function compareRound(left, right, r, shared) {
  const card = (c) => `<span class="${shared.has(c.id) ? "same" : ""}">${cardHtml(c)}</span>`;
  const side = (steps) => `<div class="side">${steps.filter((c) => c.round === r).map(card).join("")}</div>`;
  return `<div class="sb-muted">R${r}</div>` + side(left) + side(right) + preferHtml(left, right, r, shared);
}
function lastImage(side, r) {
  return side.filter((c) => c.round === r && c.image && c.stage !== "inspect" && c.review !== "rejected").pop();
}
function preferHtml(left, right, r, shared) {
  const a = lastImage(left, r), b = lastImage(right, r);
  if (!a || !b || a.id === b.id || shared.has(a.id) && shared.has(b.id)) return "";
  // a pair judged with the sides the other way round reads flipped here
  const flip = {left: "right", right: "left", tie: "tie"};
  const said = (a.judgements || []).filter((j) => j.kind === "preference" && j.other === b.id)
    .map((j) => ({...j, value: j.side === "left" ? j.value : flip[j.value]}));
  const mine = said.find((j) => S.me && j.annotator === S.me.name);
  const words = {left: "left is better", right: "right is better", tie: "tie"};
  const btn = (v, label) => {
    const on = mine && mine.value === v ? "on" : "";
    return `<button data-prefer="${v}" data-left="${a.id}" data-right="${b.id}" class="${on}">${label}</button>`;
  };
  const other = (j) => `${bdi(j.annotator)}: ${words[j.value] || j.value}`;
  const others = said.filter((j) => j !== mine).map(other).join(" · ");
  const which = a.stage === "final" && b.stage === "final" ? "final" : `R${r} image`;
  return `<div class="sb-prefer"><span class="sb-muted">Which ${which} is better?</span>` +
    `${btn("left", "◀ Left")}${btn("tie", "Tie")}${btn("right", "Right ▶")}` +
    `${others ? `<span class="sb-muted">${others}</span>` : ""}</div>`;
}
element.addEventListener("click", async (e) => {
  const b = e.target.closest("[data-prefer]");
  if (!b || !S.session) return;
  const pair = {left: b.dataset.left, right: b.dataset.right, choice: b.dataset.prefer, note: ""};
  const r = await call("prefer", {session_id: S.session.id, ...pair});
  if (r) {  // fresh cards, then the note
    await call("open_session", {session_id: S.session.id, step_id: S.selected || "", have: have()});
    setStatus(r.note);
  }
});
