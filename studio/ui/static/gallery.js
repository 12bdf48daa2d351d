// The views (studio, sessions, compare) and the sessions gallery: search and the batch filter, a card per
// session, open / rename / delete the picked card, export zips, and reopening a session from a final PNG.
function show(view) {
  $$(".sb-tab").forEach((t) => t.classList.toggle("on", t.dataset.view === view));
  $$(".sb-view").forEach((v) => { v.hidden = v.dataset.view !== view; });
  $("#sb-toast").classList.toggle("low", view === "sessions");  // a toast shown before keeps off this view's bars
  if (view === "sessions") { search(); renderExportChoice(); }
  if (view === "compare") renderCompare();
}
$$(".sb-tab").forEach((t) => { t.onclick = () => show(t.dataset.view); });
async function search() {
  const [found, batches] = await Promise.all([
    call("list_sessions", {search: $("#sb-search").value, batch: $("#sb-batch").value}),
    call("list_batches"),
  ]);
  if (batches) {
    const chosen = $("#sb-batch").value;
    const options = batches.map((b) => `<option value="${esc(b)}">${esc(b)}</option>`).join("");
    $("#sb-batch").innerHTML = `<option value="">all sessions</option>` + options;
    $("#sb-batch").value = batches.includes(chosen) ? chosen : "";
  }
  if (found) { S.gallery = found; renderGallery(); }
}
$("#sb-batch").onchange = search;
let typing;
$("#sb-search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(search, 250); });
function renderGallery() {
  const box = $("#sb-gallery");
  if (!S.gallery.length) {
    box.innerHTML = `<p class="sb-empty">${$("#sb-search").value ? "No session matches." : "No sessions yet."}</p>`;
    return;
  }
  box.innerHTML = S.gallery.map(galleryCard).join("");
}
function galleryCard(g) {
  const cls = `sb-gcard${g.id === S.picked ? " sel" : ""}${S.session && g.id === S.session.id ? " open" : ""}`;
  const thumb = g.thumb ? `<img loading="lazy" src="${esc(g.thumb)}" alt="">` : `<div class="noimg"></div>`;
  return `<div class="${cls}" data-id="${g.id}">
    ${thumb}
    <div class="t">${bdi(g.title || g.prompt)}</div><div class="p">${bdi(g.prompt)}</div>
    <div class="sb-muted">${galleryLine(g)}</div></div>`;
}
// Whose it is (with logins), the engine, when it changed, its rounds and its state.
function galleryLine(g) {
  const whose = g.owner === S.me?.name ? "yours" : bdi(g.owner);
  const owner = S.me && S.me.login && g.owner ? `${whose}${g.shared ? ", shared" : ", private"} · ` : "";
  const when = new Date(g.updated * 1000).toLocaleString();
  return `${owner}${esc(g.engine)} · ${when} · ${g.rounds} ${g.rounds === 1 ? "round" : "rounds"} · ${esc(g.state)}`;
}
element.addEventListener("click", (e) => {
  const g = e.target.closest(".sb-gcard"); if (!g) return;
  S.picked = g.dataset.id;  // mark, without redrawing: a double click must land on the same card
  $$(".sb-gcard").forEach((card) => card.classList.toggle("sel", card.dataset.id === S.picked));
  const chosen = S.gallery.find((x) => x.id === S.picked); $("#sb-new-title").value = chosen ? chosen.title : "";
});
element.addEventListener("dblclick", (e) => { if (e.target.closest(".sb-gcard")) $("#sb-open").click(); });

// ---- the picked card's actions ------------------------------------------------------------------------------
const picked = () => { if (!S.picked) toast("Select a session card first.", "warn"); return S.picked; };
$("#sb-open").onclick = async () => {
  const id = picked();
  if (id && await call("open_session", {session_id: id, step_id: "", have: []})) { remember(true); show("studio"); }
};
$("#sb-rename").onclick = async () => {
  const id = picked(); if (!id) return;
  const r = await server.rename({session_id: id, version: null, title: $("#sb-new-title").value, have: []});
  if (r.error) { toast(r.error); return; }
  if (S.session && S.session.id === id) {
    S.session.title = r.session.title; S.session.version = r.session.version; renderHead();
  }
  toast(r.note, "info"); search();
};
$("#sb-delete").onclick = async () => {
  const id = picked(); if (!id) return;
  const g = S.gallery.find((x) => x.id === id);
  const title = iso(g ? g.title || g.prompt : id);
  if (!window.confirm(`Delete “${title}” and its images? This cannot be undone.`)) return;
  const r = await server.delete({session_id: id});
  if (r.error) { toast(r.error); return; }
  if (S.session && S.session.id === id) { apply({full: true, session: null, note: r.note}); remember(); }
  toast(r.note, "info"); S.picked = null; search();
};

// ---- export and import -----------------------------------------------------------------------------------
// Every branch by default when people acted off the head branch (their overrides and rejects are there);
// a person's own choice stands until another session is open.
function renderExportChoice() {
  const box = $("#sb-all-branches"), s = S.session;
  if (box.dataset.session !== (s ? s.id : "")) { box.dataset.session = s ? s.id : ""; box.dataset.chosen = ""; }
  if (!box.dataset.chosen) box.checked = !!(s && s.people_off_head);
  $("#sb-branches-why").textContent = s && s.people_off_head && box.checked
    ? "on: people acted on steps off the head branch" : "";
}
$("#sb-all-branches").onchange = () => { $("#sb-all-branches").dataset.chosen = "1"; renderExportChoice(); };
// A new export replaces the last one's report at once: an old link is never left to look like the new zip.
$("#sb-export").onclick = async () => {
  const report = $("#sb-export-report");
  const scope = element.querySelector("input[name=sb-scope]:checked").value;
  const fields = {
    session_id: S.session ? S.session.id : "", format: $("#sb-format").value, scope,
    all_branches: $("#sb-all-branches").checked,
  };
  report.classList.remove("bad"); report.textContent = "exporting…";
  let r;
  try { r = await server.export(fields); } catch (e) { r = {error: "The studio server did not answer; is it still running?"}; }
  if (!r || r.error) {
    report.classList.add("bad"); report.textContent = `Export failed: ${r ? r.error : "no answer"}`; return;
  }
  r = r.result;
  const parts = Object.entries(r.subsets).map(([k, n]) => `${k}: ${n}`).join(", ");
  const link = `<a class="sb-button" href="${esc(r.url)}" download>download the zip</a>`;
  report.innerHTML = `${esc(r.note)} — ${esc(parts)} · ${link}`;
};
$("#sb-png").onchange = async (e) => {
  const file = e.target.files[0]; if (!file) return;
  const sent = await upload(file);
  if (await call("import_png", {path: sent.path})) { remember(true); show("studio"); }
  e.target.value = "";
};
