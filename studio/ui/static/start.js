// Start: who the page acts for, the first drawing, and the session in the URL, if any.
$("#sb-boxes").checked = true;
call("whoami").then((me) => {
  S.me = me;
  if (me) $("#sb-me").innerHTML = me.login ? `${bdi(me.name)} · ${esc(me.role)}` : "";
  render();
});
count();
render();
restore();
