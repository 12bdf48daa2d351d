// The left column and the header: the prompt and its count, engine and settings, New session, Step,
// Run to end, Stop, the progress bar, the shortcuts help, and the keyboard.
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
// The open session's own settings (engine, rounds, mode, engine parameters), shown once when it opens; New
// session takes what is there.
function renderSettings() {
  const id = S.session ? S.session.id : "";
  if (renderSettings.shown === id) return;
  renderSettings.shown = id;
  if (!S.session) return;
  const s = S.session;
  $("#sb-rounds").value = s.max_rounds; $("#sb-mode").value = s.mode;
  if ((props.engines || []).some((e) => e.name === s.engine)) { $("#sb-engine").value = s.engine; engineNote(); }
  const params = s.params && Object.keys(s.params).length ? JSON.stringify(s.params) : "{}";
  $("#sb-params").value = params;
  if (params !== "{}") $(".sb-params").open = true;  // what the session runs with is in sight
}
function renderProgress() {
  const bar = $("#sb-progress");
  bar.hidden = !S.running;
  const p = S.progress || {fraction: 0, message: "starting…"};
  bar.querySelector(".sb-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
  bar.querySelector(".sb-bar-label").textContent = p.message || "";
  if (S.running) setStatus(`running: ${p.message || "…"}`);
}

// ---- the choices the server offers (props from studio.ui.build_ui) ------------------------------------------
function option(value, label, chosen) {
  return `<option value="${value}" ${chosen ? "selected" : ""}>${label}</option>`;
}
$("#sb-engine").innerHTML = (props.engines || [])
  .map((e) => option(esc(e.name), esc(e.name) + (e.ok ? "" : " (not installed)"), e.name === props.default_engine))
  .join("");
const engineNote = () => {
  const e = (props.engines || []).find((x) => x.name === $("#sb-engine").value);
  $("#sb-engine-note").textContent = e ? e.note : "";
};
$("#sb-engine").onchange = engineNote; engineNote();
$("#sb-pause").innerHTML = (props.pauses || [])
  .map(([v, label]) => option(v, esc(label), v === props.default_pause)).join("");
$("#sb-rounds").value = props.default_rounds;
$("#sb-format").innerHTML = (props.formats || [])
  .map((f) => `<option ${f === "folder" ? "selected" : ""}>${esc(f)}</option>`).join("");
const shortcuts = (props.shortcuts || []).map(([k, what]) => `<kbd>${esc(k)}</kbd>${esc(what)}`);
$("#sb-help").innerHTML = "<b>Keyboard shortcuts</b><br>" + shortcuts.join("<br>");
$("#sb-help-btn").onclick = () => { $("#sb-help").hidden = !$("#sb-help").hidden; };
$("#sb-toast").onclick = () => { $("#sb-toast").hidden = true; };

// ---- starting and running a session -----------------------------------------------------------------------------
$("#sb-new").onclick = async () => {
  const seed = $("#sb-seed").value.trim();
  $("#sb-prompt").dataset.touched = "";
  const r = await call("new_session", {
    prompt: $("#sb-prompt").value, engine: $("#sb-engine").value,
    seed: seed === "" ? null : seed, random_seed: seed === "",
    rounds: $("#sb-rounds").value, mode: $("#sb-mode").value, params: $("#sb-params").value,
  });
  if (r) remember(true);
};
$("#sb-step").onclick = () => work("step");
$("#sb-run").onclick = () => work("run", {pause: $("#sb-pause").value});
$("#sb-stop").onclick = async () => {
  if (!S.session) return;
  const r = await server.stop({session_id: S.session.id});
  setStatus(r.note || r.error);
};

// ---- keyboard ----------------------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  const inField = /INPUT|TEXTAREA|SELECT/.test(e.target.tagName);
  if (e.ctrlKey || e.metaKey || e.altKey || inField || $(".sb-studio").hidden) return;
  const i = S.branch.indexOf(S.selected);
  const keys = {
    s: () => $("#sb-step").click(), r: () => $("#sb-run").click(), a: () => act("accept"), x: () => act("reject"),
    j: () => S.branch[i + 1] && select(S.branch[i + 1]), k: () => i > 0 && select(S.branch[i - 1]),
    b: () => { $("#sb-boxes").checked = !$("#sb-boxes").checked; renderCanvas(); },
    n: () => { $("#sb-labels").checked = !$("#sb-labels").checked; renderCanvas(); },
    "?": () => $("#sb-help-btn").click(),
  };
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
});
