// The branches: one line per branch of the open session, oldest first, named by what started it
// ("you: reject R2 sketch", "edit R3 plan", "rewind to R1 plan"), with the branch it left, its end and its
// last image. The open branch is marked, the head's branch says so; a click opens that branch. A list, not a
// drawing of every step: ten or more branches stay readable in the column (each line is one line high).
function startedText(b) {
  const by = b.started.by ? `${S.me && b.started.by === S.me.name ? "you" : b.started.by}: ` : "";
  return by + b.started.what;
}
function renderTree() {
  const box = $("#sb-tree"), n = S.branches.length;
  $("#sb-branch-count").textContent = n ? `${n} ${n === 1 ? "branch" : "branches"}` : "";
  if (!S.branches.length) { box.innerHTML = `<p class="sb-empty">Forks appear here.</p>`; return; }
  const open = new Set(S.branch);
  box.innerHTML = S.branches.map((b) => branchLine(b, open.has(b.leaf))).join("");
  const on = box.querySelector(".node.on");  // keep the open branch in view, scrolling this list only
  if (on && (on.offsetTop < box.scrollTop || on.offsetTop + on.offsetHeight > box.scrollTop + box.clientHeight)) {
    box.scrollTop = on.offsetTop - box.clientHeight / 2;
  }
}
function branchLine(b, on) {
  const head = S.session && b.leaf === S.session.head;
  const cls = `node${on ? " on" : ""}${head ? " head" : ""}${S.selected === b.leaf ? " sel" : ""}`;
  const thumb = b.image ? `<img src="${esc(b.image)}" alt="" loading="lazy">` : `<span class="noimg"></span>`;
  const from = b.from ? `from branch ${b.from}, ` : "";
  const tip = `Branch ${b.number}: ${startedText(b)} (${from}${b.steps} steps, ends with ${b.ends} ` +
    `in round ${b.ends_round})${head ? " · the head: Step continues here" : ""}`;
  const ends = b.ends === "final" ? "final" : `R${b.ends_round} ${b.ends === "inspect" ? "verdict" : b.ends}`;
  return `<div class="${cls}" data-id="${b.leaf}" title="${esc(iso(tip))}">${thumb}` +
    `<span class="bn">${b.number}</span><span class="bl">${bdi(startedText(b))}</span>` +
    `<span class="be">${esc(ends)}</span></div>`;
}
element.addEventListener("click", (e) => {
  const n = e.target.closest(".sb-tree .node");
  if (n) select(n.dataset.id);
});
