// The canvas: the selected step's image (or the last image before it), large; the verdict's evidence boxes
// and the names of what was drawn over it; the live preview while a sketch is drawn; and the region brush
// whose painted pixels limit a refine. The canvas has a fixed place and size in its column (page.css): nothing
// typed or focused in the panel under it moves it, and a stroke lands where the pointer is.
function shownImage() {
  const c = S.cards[S.selected];
  if (!c) return null;
  if (c.image) return c;
  const i = S.branch.indexOf(c.id);
  for (let j = i - 1; j >= 0; j--) {
    const o = S.cards[S.branch[j]];
    if (o && o.image && o.stage !== "inspect") return o;
  }
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
  if (paint.width !== shown.width || paint.height !== shown.height) {
    paint.width = shown.width; paint.height = shown.height;
  }
  layout(shown);
  const c = S.cards[S.selected], svg = $("#sb-evidence");
  const verdict = c && c.stage === "inspect" && $("#sb-boxes").checked;
  const boxes = verdict ? [c.plan_check, c.sketch_check].filter(Boolean) : [];
  svg.setAttribute("viewBox", `0 0 ${shown.width} ${shown.height}`);
  const s = shown.width / layout.shownWidth;  // image pixels per screen pixel: strokes and text keep their screen size
  const names = c && c.stage !== "inspect" && $("#sb-labels").checked ? (shown.labels || []) : [];
  // each box by its own finding: red where the verdict says what is wrong with that object, else green
  const evidence = (check) => check.evidence.map((b) => boxHtml(b, b.wrong ? "#c62828" : "#15803d", false, s));
  svg.innerHTML = boxes.map((check) => evidence(check).join("")).join("") +
    names.map((b) => boxHtml(b, "#334155", true, s)).join("");
  placeLabels(svg, shown, s);
}
// One box (x0, y0, x1, y1 in image pixels) with its label; `s` scales strokes and text to the image.
function boxHtml(b, col, dash, s) {
  const [x0, y0, x1, y1] = b.box;
  const dashes = dash ? ` stroke-dasharray="${6 * s} ${4 * s}"` : "";
  const rect = `<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="${col}" ` +
    `stroke-width="${(dash ? 2 : 3) * s}"${dashes}/>`;
  if (!b.label) return rect;
  const box = `data-box="${[x0, y0, x1, y1].join(",")}"`;
  return rect + `<text ${box} fill="${col}" style="font-size:${13 * s}px;stroke-width:${3 * s}px">${esc(b.label)}</text>`;
}
// Each label where it can be read whole: above its box, else inside its top, else under it; moved left to
// stay inside the image, and never over a label placed before it. A label wider than the image wraps.
function placeLabels(svg, shown, s) {
  const placed = [], W = shown.width, H = shown.height, pad = 3 * s, line = 15 * s;
  const hits = (r) => placed.some((o) => r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1);
  for (const t of svg.querySelectorAll("text[data-box]")) {
    const [x0, y0, x1, y1] = t.dataset.box.split(",").map(Number);
    wrapLabel(t, Math.min(W - 2 * pad, Math.max(x1 - x0, 0.4 * W)), line);  // a sentence wraps near its box
    const lines = Array.from(t.childNodes);
    const w = Math.max(0, ...lines.map((l) => l.getComputedTextLength())), h = line * lines.length;
    const x = Math.max(pad, Math.min(x0 + pad, W - pad - w));
    const tops = [y0 - h - pad, y0 + pad, y1 + pad, y0 - h - pad - line, y1 + pad + line];
    const fits = tops.map((top) => ({x0: x, y0: top, x1: x + w, y1: top + h}))
      .filter((r) => r.y0 >= 0 && r.y1 <= H);
    const spot = fits.find((r) => !hits(r)) || fits[0] || {x0: x, y0: Math.max(0, Math.min(y0, H - h)), x1: x + w};
    spot.y1 = spot.y0 + h; placed.push(spot);
    lines.forEach((span, i) => {
      span.setAttribute("x", spot.x0); span.setAttribute("y", spot.y0 + line * (i + 0.8));
    });
  }
}
// A label as lines (tspans) no wider than `width` image pixels.
function wrapLabel(t, width, line) {
  const words = t.textContent.split(/\s+/).filter(Boolean);
  t.textContent = "";
  let span = null;
  for (const word of words) {
    const before = span && span.textContent;
    if (span) span.textContent += " " + word;
    if (!span || span.getComputedTextLength() > width) {
      if (span) span.textContent = before;
      span = document.createElementNS("http://www.w3.org/2000/svg", "tspan");
      span.textContent = word; t.appendChild(span);
    }
  }
  Array.from(t.childNodes).slice(0, -1).forEach((line) => { line.textContent += " "; });  // the label reads whole
}
// The canvas box's inner size, which the image is fitted to (page.css sizes the box to its column).
function fitSide() {
  const box = $("#sb-canvas");
  return {w: box.clientWidth || 540, h: box.clientHeight || 540};
}
function layout(shown) {
  // The image is drawn with object-fit: contain; the evidence and paint layers sit exactly over its pixels.
  const fit = fitSide(), stage = $(".sb-stage");
  const W = S.zoom ? shown.width : fit.w, H = S.zoom ? shown.height : fit.h;
  const scale = S.zoom ? 1 : Math.min(W / shown.width, H / shown.height);
  const w = shown.width * scale, h = shown.height * scale, left = (W - w) / 2, top = (H - h) / 2;
  stage.style.width = W + "px"; stage.style.height = H + "px";
  const over = {left: left + "px", top: top + "px", width: w + "px", height: h + "px"};
  for (const layer of [$("#sb-evidence"), $("#sb-paint")]) Object.assign(layer.style, over);
  layout.shownWidth = w;
  $("#sb-zoom").textContent = S.zoom ? "fit" : `${Math.round(scale * 100)}%`;  // the shown scale; a click shows 1:1
}

// ---- the region brush ----------------------------------------------------------------------------------
const brush = {tool: "brush", down: false, painted: false, last: null};
function clearPaint() {
  const p = $("#sb-paint");
  p.getContext("2d").clearRect(0, 0, p.width, p.height); brush.painted = false; renderPanelHint();
}
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
function hasPaint() {
  const p = $("#sb-paint");
  if (!p.width) return false;
  const d = p.getContext("2d").getImageData(0, 0, p.width, p.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
  return false;
}
$("#sb-paint").addEventListener("pointerdown", (e) => {
  brush.down = true; brush.last = null; $("#sb-paint").setPointerCapture(e.pointerId); stroke(e);
});
$("#sb-paint").addEventListener("pointermove", (e) => { if (brush.down) stroke(e); });
$("#sb-paint").addEventListener("pointerup", () => {
  brush.down = false; brush.last = null; brush.painted = hasPaint(); renderPanelHint();
});
function pickTool(tool) {
  brush.tool = tool;
  $("#sb-brush").classList.toggle("on", tool === "brush"); $("#sb-eraser").classList.toggle("on", tool === "eraser");
}
$("#sb-brush").onclick = () => pickTool("brush");
$("#sb-eraser").onclick = () => pickTool("eraser");
$("#sb-clear").onclick = clearPaint;
$("#sb-zoom").onclick = () => { S.zoom = !S.zoom; renderCanvas(); };
$("#sb-boxes").onchange = renderCanvas;
$("#sb-labels").onchange = renderCanvas;
// A window resized refits the image (the painted region keeps its pixels: only the layer's size on screen changes).
new ResizeObserver(() => { if (S.cards[S.selected]) renderCanvas(); }).observe($("#sb-canvas"));
