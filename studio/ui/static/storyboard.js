// The storyboard: the session's head line (title, id, owner and sharing) and the loop, one row per round
// (plan → sketch → verdict → refine), a card per step; a click on a card selects it. Like a history panel's
// groups, a row leads with the text that opened the round and keeps every word of it: texts wrap, never
// clip; images are large enough to judge at a glance; a rejected image keeps its reason in the row.

// ---- the head line -----------------------------------------------------------------------------------
function renderHead() {
  const s = S.session;
  $("#sb-title").textContent = s ? (s.title || s.prompt) : "No session open";
  $("#sb-sid").textContent = s ? `${s.id.slice(0, 8)} · ${s.engine} · seed ${s.seed}` : "";
  if (s && document.activeElement !== $("#sb-prompt") && !$("#sb-prompt").dataset.touched) {
    $("#sb-prompt").value = s.prompt; count();
  }
  const owner = $("#sb-owner");
  if (!s || !S.me || !S.me.login) { owner.innerHTML = ""; return; }
  owner.innerHTML = ownerHtml(s);
}
function ownerHtml(s) {
  const mine = s.owner === S.me.name || !s.owner || S.me.role === "admin";
  const seen = s.shared
    ? `<span class="sb-badge acc">shared with the team</span>`
    : `<span class="sb-badge private">private</span>`;
  const other = s.owner && s.owner !== S.me.name ? ` <span class="sb-muted">owner ${bdi(s.owner)}</span>` : "";
  const label = s.shared ? "Make private" : "Share with team";
  const share = mine ? ` <button id="sb-share" title="who can see this session">${label}</button>` : "";
  return seen + other + share;
}
element.addEventListener("click", (e) => {
  if (e.target.id !== "sb-share" || !S.session) return;
  const s = S.session;
  call("share", {session_id: s.id, version: s.version, shared: !s.shared, have: have()});
});

// ---- a card ------------------------------------------------------------------------------------------
function who(c) { return c.annotator && S.me && c.annotator === S.me.name ? "you" : (c.annotator || "a person"); }
const RATING = {up: "good", down: "bad"};
function ratingText(j) { return RATING[j.value] || `${j.value}/5`; }
function badge(check, name) {
  if (!check) return "";
  const look = check.passed ? "ok" : "bad", mark = check.passed ? "✓" : "✗";
  return `<span class="sb-badge ${look}" title="${esc(iso(check.critique))}">${name} ${mark}</span>`;
}
function cardHtml(c) {
  const sel = c.id === S.selected ? " sel" : "", rej = c.review === "rejected" ? " rejected" : "";
  const you = c.author === "human" ? " human" : "", answered = answerHtml(c) ? " answered" : "";
  const badges = byBadge(c) + starsBadge(c) + reviewBadge(c);
  const head = `<div class="kind"><span class="st">${c.stage === "inspect" ? "verdict" : c.stage}</span>${badges}</div>`;
  const wide = c.stage === "plan" || c.stage === "inspect" ? " text" : "";
  const why = c.review === "rejected" && c.review_note ? ` title="rejected: ${esc(iso(c.review_note))}"` : "";
  const attrs = `data-id="${c.id}" data-stage="${c.stage}"${why}`;
  return `<div class="sb-card${wide}${sel}${rej}${you}${answered}" ${attrs}>${head}${cardBody(c)}${answerHtml(c)}</div>`;
}
// The words of the note the step answered, as the card says them ("used your note: …").
function answerWords(c) {
  const p = c.person_input;
  if (!p || p.used === null || p.used === undefined) return "";
  return `${p.used ? "used" : "could not use"} your note: ${p.note || p.text}`;
}
// A refine's own text, unless it only repeats what the card says about the note it answered.
function ownText(c) {
  const plain = (t) => String(t || "").toLowerCase().replace(/[\s.]+$/, "").replace(/\s+/g, " ").trim();
  return c.instruction && plain(c.instruction) !== plain(answerWords(c)) ? c.instruction : "";
}
// What a model step did with the person's note it answered, and a refine that changed nothing.
function answerHtml(c) {
  const p = c.person_input, words = answerWords(c);
  const used = words
    ? `<div class="txt said ${p.used ? "used" : "unused"}">${p.used ? "used" : "could not use"} your note: ` +
      `${bdi(p.note || p.text)}</div>` : "";
  const same = c.unchanged ? `<div class="txt said unused">no change: ${bdi(c.unchanged)}</div>` : "";
  return used + same;
}
function byBadge(c) {
  if (c.author !== "human" && !c.annotator) return "";
  const title = `${c.author === "human" ? "written" : "reviewed"} by ${esc(iso(who(c)))}`;
  return `<span class="sb-badge you" title="${title}">${bdi(who(c))}</span>`;
}
function starsBadge(c) {
  const rated = (c.judgements || []).filter((j) => j.kind === "rating");
  if (!rated.length) return "";
  const said = rated.map((j) => `${iso(j.annotator)}: ${ratingText(j)}${j.note ? " — " + iso(j.note) : ""}`);
  return `<span class="sb-badge rate" title="${esc(said.join("\n"))}">${rated.map(ratingText).join(" ")}</span>`;
}
function reviewBadge(c) {
  if (c.review === "accepted") return `<span class="sb-badge acc">accepted</span>`;
  if (c.review === "rejected") return `<span class="sb-badge bad" title="${esc(iso(c.review_note))}">rejected</span>`;
  return "";
}
function cardBody(c) {
  if (c.stage === "plan") return `<div class="txt"><b>${bdi(c.instruction)}</b><br>${bdi(c.description)}</div>`;
  if (c.stage === "inspect") return verdictBody(c);
  const why = c.review === "rejected" && c.review_note ? `<div class="txt why">${bdi(c.review_note)}</div>` : "";
  if (c.stage === "refine") {
    const said = ownText(c) ? `<div class="txt">${bdi(c.instruction)}</div>` : "";
    return `<img loading="lazy" src="${esc(c.image)}" alt="refined image">${said}${why}`;
  }
  return c.image ? `<img loading="lazy" src="${esc(c.image)}" alt="${c.stage}">${why}` : "";
}
function verdictBody(c) {
  const unread = `title="${esc(iso(c.unreadable))}"`;
  if (c.unreadable && !c.plan_check && !c.sketch_check) {
    const badge = `<div><span class="sb-badge bad">unreadable</span></div>`;
    return `${badge}<div class="txt" ${unread}>${bdi(c.unreadable)}</div>`;
  }
  const part = c.unreadable ? `<span class="sb-badge bad" ${unread}>part unreadable</span>` : "";
  const failed = (check) => (check && !check.passed ? check.critique : "");
  const said = failed(c.sketch_check) || failed(c.plan_check) || (c.sketch_check || c.plan_check || {}).critique || "";
  const badges = badge(c.plan_check, "plan") + badge(c.sketch_check, "sketch") + part;
  return `<div>${badges}</div><div class="txt">${bdi(said)}</div>`;
}

// ---- the board: the branch's cards, one row per round -----------------------------------------------------
function rejectedBefore(c) {
  const before = (o) => o.parent === c.parent && o.stage === c.stage && o.review === "rejected" && o.id !== c.id;
  return Object.values(S.cards).filter(before).sort((a, b) => a.created - b.created);
}
function renderBoard() {
  const box = $("#sb-board");
  if (!S.session) {
    const loop = "The loop appears here, one row per round: plan → sketch → verdict → refine.";
    box.innerHTML = `<p class="sb-empty">${loop}</p>`;
    return;
  }
  if (!S.branch.length) {
    box.innerHTML = `<p class="sb-empty">Press Step (s) or Run to end (r) to start the loop.</p>`; return;
  }
  const rows = [];
  for (const id of S.branch) {
    const c = S.cards[id]; if (!c) continue;
    const planAfterOthers = c.stage === "plan" && rows.length && rows[rows.length - 1].some((x) => x.stage !== "plan");
    if (!rows.length || planAfterOthers || c.stage === "refine") rows.push([]);
    if (c.stage === "sketch" || c.stage === "refine") rows[rows.length - 1].push(...rejectedBefore(c));
    rows[rows.length - 1].push(c);
  }
  box.innerHTML = rows.map((row) => {
    // a refine that changed nothing is no round of the budget: its row says so beside its number
    const none = row[0].stage === "refine" && row[0].unchanged
      ? `<div class="nr" title="this refine changed nothing: it is not counted as a round">no round</div>` : "";
    const label = `R${row[0].round}${none}`;
    return `<div class="sb-row"><div class="sb-rowlabel">${label}</div>${row.map(cardHtml).join("")}</div>`;
  }).join("");
  const chosen = box.querySelector(".sb-card.sel");
  if (chosen && S.scrollTo !== S.selected) {  // keep the selected card in view, scrolling the board only
    const top = chosen.offsetTop - box.offsetTop, bottom = top + chosen.offsetHeight;
    const out = top < box.scrollTop || bottom > box.scrollTop + box.clientHeight;
    if (out) box.scrollTop = Math.max(0, bottom - box.clientHeight + 8);
    S.scrollTo = S.selected;
  }
}
element.addEventListener("click", (e) => {
  const card = e.target.closest(".sb-board .sb-card, .sb-compare-grid .sb-card");
  if (card) select(card.dataset.id);
});
function select(id) {
  if (!S.cards[id]) return;
  if (!S.branch.includes(id)) {
    const s = S.session;
    call("switch_branch", {session_id: s.id, version: s.version, step_id: id, have: have()}); return;
  }
  S.selected = id; remember(true); renderBoard(); renderTree(); renderCanvas(); renderPanel(); renderControls();
}
