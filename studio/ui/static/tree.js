// The branch tree: every step of the session as an SVG node (a thumbnail where it has an image), laid out
// one lane per branch; the open branch is drawn in colour, the head is ringed; a click selects a step.
const TREE = {dx: 40, dy: 34, ox: 20, oy: 16};

function renderTree() {
  const box = $("#sb-tree"), n = S.branches.length;
  $("#sb-branch-count").textContent = n ? `${n} ${n === 1 ? "branch" : "branches"}` : "";
  if (!S.tree.length) { box.innerHTML = `<p class="sb-empty">Forks appear here.</p>`; return; }
  const {pos, lanes} = treeLayout();
  const {dx, dy, ox, oy} = TREE;
  const onBranch = new Set(S.branch);
  let lines = "", nodes = "";
  for (const [id] of S.tree) {
    const c = S.cards[id], p = pos[id], x = ox + p.x * dx, y = oy + p.y * dy;
    if (c.parent && pos[c.parent]) lines += treeLine(pos[c.parent], x, y, onBranch.has(id));
    nodes += treeNode(c, x, y, onBranch.has(id));
  }
  const w = ox * 2 + lanes * dx, h = oy * 2 + Math.max(...Object.values(pos).map((p) => p.y)) * dy;
  box.innerHTML = `<svg width="${w}" height="${h}">${lines}${nodes}</svg>`;
}
// Each step's lane (x) and depth (y): a first child stays in its parent's lane, a later one opens a lane.
function treeLayout() {
  const kids = {}, pos = {};
  for (const [id] of S.tree) { const p = S.cards[id].parent || "root"; (kids[p] = kids[p] || []).push(id); }
  let lanes = 0;
  const place = (id, depth, lane) => {
    pos[id] = {x: lane, y: depth};
    (kids[id] || []).forEach((child, i) => place(child, depth + 1, i === 0 ? lane : ++lanes));
  };
  (kids.root || []).forEach((id, i) => place(id, 0, i === 0 ? 0 : ++lanes));
  return {pos, lanes};
}
function treeLine(q, x, y, on) {
  const {dx, dy, ox, oy} = TREE, px = ox + q.x * dx, py = oy + q.y * dy;
  const colour = on ? "#6366f1" : "#cbd5e1";
  return `<path d="M${px},${py} L${x},${py + 10} L${x},${y}" fill="none" stroke="${colour}" stroke-width="2"/>`;
}
function treeNode(c, x, y, on) {
  const id = c.id, head = id === S.session.head;
  const cls = `node${c.review === "rejected" ? " rejected" : ""}${on ? "" : " off"}${id === S.selected ? " sel" : ""}`;
  const ring = head
    ? `<circle cx="${x}" cy="${y}" r="17" fill="none" stroke="#f59e0b" stroke-width="2" stroke-dasharray="3 2"/>`
    : "";
  return `<g class="${cls}" data-id="${id}"><title>${esc(treeTip(c, head))}</title>${treeShape(c, x, y)}${ring}</g>`;
}
function treeTip(c, head) {
  const by = c.author === "human" ? " · by you" : "";
  const review = `${c.review ? " · " + c.review : ""}${c.review_note ? ": " + iso(c.review_note) : ""}`;
  return `${c.stage} · round ${c.round}${by}${review}${head ? " · head" : ""}`;
}
function treeShape(c, x, y) {
  if (c.image && c.stage !== "inspect") {
    const frame = `<rect class="frame" x="${x - 13}" y="${y - 13}" width="26" height="26" rx="4" ` +
      `fill="#fff" stroke="#94a3b8"/>`;
    return frame + `<image href="${c.image}" x="${x - 12}" y="${y - 12}" width="24" height="24"/>`;
  }
  const verdict = c.passed ? "#15803d" : "#c62828";
  const fill = c.stage === "inspect" ? verdict : c.stage === "plan" ? "#6366f1" : "#94a3b8";
  return `<circle cx="${x}" cy="${y}" r="7" fill="${fill}" stroke="#fff"/>`;
}
element.addEventListener("click", (e) => {
  const n = e.target.closest(".sb-tree .node");
  if (n) select(n.dataset.id);
});
