// Compare branches: two branches of the open session, their images paired by stage within a round (the R2
// sketch with the R2 sketch, the R3 refine with the R3 refine, the final with the final whatever round each
// ended in; never a refine against a sketch), one pair shown large side by side with the texts that led to
// each image, and "which is better?" as buttons and keys (← left, t tie, → right; ↑ / ↓ another pair).
// Under the pair, what each branch did after they parted.
const PAIR = {at: 0};
function renderCompareChoices() {
  const opts = S.branches.map((b) => `<option value="${b.leaf}">${esc(branchOption(b))}</option>`).join("");
  const kept = [$("#sb-left").value, $("#sb-right").value];
  const keep = kept[0] !== kept[1] && kept.every((leaf) => S.branches.some((b) => b.leaf === leaf));
  [["#sb-left", 0], ["#sb-right", S.branches.length - 1]].forEach(([sel, pick], i) => {
    $(sel).innerHTML = opts;  // two different branches stay chosen; otherwise the first and the newest
    $(sel).value = keep ? kept[i] : (S.branches[pick] || {}).leaf || "";
  });
  if (!$(".sb-compare").hidden) renderCompare();
}
function branchOption(b) {
  return `Branch ${b.number} · ${iso(startedText(b))} · ${b.steps} steps · ends with ${b.ends}`;
}
$("#sb-left").onchange = $("#sb-right").onchange = () => { PAIR.at = 0; renderCompare(); };
// The steps from the first one to `leaf`, in order.
function pathTo(leaf) {
  const out = [];
  for (let id = leaf; id && S.cards[id]; id = S.cards[id].parent) out.unshift(S.cards[id]);
  return out;
}
// Each side's images by what they are: "final", or "R<round> <stage>" (the last kept image of that stage).
function imagesByStage(side) {
  const out = new Map();
  for (const c of side) {
    if (!c.image || c.stage === "inspect" || c.review === "rejected") continue;
    out.set(c.stage === "final" ? "final" : `R${c.round} ${c.stage}`, c);
  }
  return out;
}
// The pairs worth judging: the same stage on both sides, two different images.
function comparePairs(left, right) {
  const a = imagesByStage(left), b = imagesByStage(right), pairs = [];
  for (const [what, l] of a) {
    const r = b.get(what);
    if (r && r.id !== l.id && r.image !== l.image) pairs.push({what, left: l, right: r});
  }
  const final = pairs.filter((p) => p.what === "final");
  return [...final, ...pairs.filter((p) => p.what !== "final")];  // the finals first, then round by round
}
function renderCompare() {
  const box = $("#sb-compare");
  if (!S.session || S.branches.length < 2) {
    const hint = "Open a session with two branches (rewind & fork a step) to compare them.";
    box.innerHTML = `<p class="sb-empty">${hint}</p>`; return;
  }
  const left = pathTo($("#sb-left").value), right = pathTo($("#sb-right").value);
  const pairs = comparePairs(left, right);
  PAIR.at = Math.max(0, Math.min(PAIR.at, pairs.length - 1));
  const list = pairs.map((p, i) => {
    const judged = myPreference(p) ? " judged" : "";
    const mark = myPreference(p) ? ` <span class="sb-muted">(${PREFER_WORDS[myPreference(p).value]})</span>` : "";
    return `<button class="pair${i === PAIR.at ? " on" : ""}${judged}" data-pair="${i}">${esc(p.what)}${mark}</button>`;
  }).join("");
  const none = `<p class="sb-empty">No stage drew a different image on both branches yet; ` +
    `what each branch did is listed below.</p>`;
  box.innerHTML = `<nav class="sb-pairs"><div class="sb-muted">Pairs (${pairs.length})</div>${list}</nav>` +
    `<div class="sb-duel-wrap">${pairs.length ? duelHtml(pairs[PAIR.at]) : none}` +
    `${partedHtml(left, right)}</div>`;
}
function sideLabel(sel) { return esc($(sel).selectedOptions[0]?.text || ""); }
function duelHtml(p) {
  const side = (c, sel) => `<figure class="side"><figcaption class="head">${sideLabel(sel)}</figcaption>` +
    `<img src="${esc(c.image)}" alt="${esc(p.what)}" data-id="${c.id}">` +
    `<div class="led">${ledTo(c)}</div></figure>`;
  return `<div class="sb-duel">${side(p.left, "#sb-left")}${side(p.right, "#sb-right")}</div>` + preferHtml(p);
}
// The texts that led to an image: the steps before it back to the image before (a plan, a verdict, a refine).
function ledTo(c) {
  const path = pathTo(c.id), out = [];
  const start = c.stage === "final" ? path.length - 2 : path.length - 1;
  for (let i = start; i >= 0 && out.length < 3; i--) {
    const o = path[i];
    if (i < start && o.image && o.stage !== "inspect") break;
    const text = stepText(o);
    if (text) out.unshift(`<div><span class="kind">R${o.round} ${o.stage === "inspect" ? "verdict" : o.stage}` +
      `${o.author === "human" ? " · " + bdi(who(o)) : ""}</span> ${bdi(text)}</div>`);
  }
  return out.join("") || `<div class="sb-muted">no text before this image</div>`;
}
function stepText(c) {
  if (c.stage === "plan") return [c.instruction, c.description].filter(Boolean).join(" — ");
  if (c.stage === "refine") return c.instruction || "";
  if (c.stage === "inspect") {  // both checks, each with its mark
    const said = [["plan", c.plan_check], ["sketch", c.sketch_check]].filter(([, k]) => k)
      .map(([name, k]) => `${name} ${k.passed ? "✓" : "✗"} ${k.critique || ""}`.trim());
    return c.unreadable || said.join(" · ");
  }
  return "";
}
// What each branch did after the two parted: a line per step, with its text.
function partedHtml(left, right) {
  const shared = new Set(left.filter((c) => right.includes(c)).map((c) => c.id));
  const line = (c) => `<li data-id="${c.id}"><span class="kind">R${c.round} ` +
    `${c.stage === "inspect" ? "verdict" : c.stage}</span>${c.review ? ` <b>${esc(c.review)}</b>` : ""} ` +
    `${bdi(stepText(c) || (c.image ? "image" : ""))}</li>`;
  const list = (side) => `<ol>${side.filter((c) => !shared.has(c.id)).map(line).join("") ||
    "<li class='sb-muted'>nothing of its own</li>"}</ol>`;
  return `<div class="sb-parted"><div><div class="head">${sideLabel("#sb-left")}: after they parted</div>` +
    `${list(left)}</div><div><div class="head">${sideLabel("#sb-right")}: after they parted</div>${list(right)}</div></div>`;
}
const PREFER_WORDS = {left: "left is better", right: "right is better", tie: "tie"};
// The preferences given on a pair, each read with this pair's sides (one given the other way round is flipped).
function pairSaid(p) {
  const flip = {left: "right", right: "left", tie: "tie"};
  return (p.left.judgements || []).filter((j) => j.kind === "preference" && j.other === p.right.id)
    .map((j) => ({...j, value: j.side === "left" ? j.value : flip[j.value]}));
}
function myPreference(p) { return pairSaid(p).find((j) => S.me && j.annotator === S.me.name); }
function preferHtml(p) {
  const said = pairSaid(p), mine = myPreference(p);
  const btn = (v, label, key) => {
    const on = mine && mine.value === v ? "on" : "";
    return `<button data-prefer="${v}" data-left="${p.left.id}" data-right="${p.right.id}" class="${on}" ` +
      `title="key: ${key}">${label} <kbd>${key}</kbd></button>`;
  };
  const other = (j) => `${bdi(j.annotator)}: ${PREFER_WORDS[j.value] || j.value}`;
  const others = said.filter((j) => j !== mine).map(other).join(" · ");
  const which = p.what === "final" ? "final" : p.what;
  return `<div class="sb-prefer"><span>Which ${esc(which)} is better?</span>` +
    `${btn("left", "◀ Left", "←")}${btn("tie", "Tie", "t")}${btn("right", "Right ▶", "→")}` +
    `${others ? `<span class="sb-muted">${others}</span>` : ""}</div>`;
}
async function prefer(left, right, choice) {
  if (!S.session) return;
  const r = await call("prefer", {session_id: S.session.id, left, right, choice, note: ""});
  if (r) {  // fresh cards, then the note; the next pair not judged yet comes up
    await call("open_session", {session_id: S.session.id, step_id: S.selected || "", have: have()});
    const pairs = comparePairs(pathTo($("#sb-left").value), pathTo($("#sb-right").value));
    const next = pairs.findIndex((p, i) => i > PAIR.at && !myPreference(p));
    if (next >= 0) { PAIR.at = next; renderCompare(); }
    setStatus(r.note);
  }
}
element.addEventListener("click", (e) => {
  const b = e.target.closest("[data-prefer]");
  if (b) { prefer(b.dataset.left, b.dataset.right, b.dataset.prefer); return; }
  const pair = e.target.closest("[data-pair]");
  if (pair) { PAIR.at = +pair.dataset.pair; renderCompare(); }
});
document.addEventListener("keydown", (e) => {
  if ($(".sb-compare").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  if (/INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) return;
  const choice = {ArrowLeft: "left", ArrowRight: "right", t: "tie", "=": "tie"}[e.key];
  const move = {ArrowDown: 1, j: 1, ArrowUp: -1, k: -1}[e.key];
  if (choice) {
    const b = $(`#sb-compare [data-prefer="${choice}"]`);
    if (b) { e.preventDefault(); prefer(b.dataset.left, b.dataset.right, choice); }
  } else if (move) {
    e.preventDefault(); PAIR.at = Math.max(0, PAIR.at + move); renderCompare();
  }
});
