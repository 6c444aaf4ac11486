// hookgate console: the copy buttons and the live tail (Server-Sent Events). No library.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy URL"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => { select(button.dataset.copy); });
  } else {
    select(button.dataset.copy);
    if (document.execCommand("copy")) done();
  }
});

function select(id) {
  const range = document.createRange();
  range.selectNodeContents(document.getElementById(id));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

const live = document.getElementById("live");
if (live) {
  const status = document.getElementById("live-status");
  const source = new EventSource(live.dataset.stream);
  const show = (kind, data) => {
    let item;
    try { item = JSON.parse(data); } catch (e) { item = { text: data }; }
    const li = document.createElement("li");
    const when = new Date().toISOString().slice(11, 19);
    const id = item.id || item.event_id;
    const words = [when, kind, item.source || "", item.detail_type || "", item.status || "", item.cause || ""];
    li.textContent = words.filter(Boolean).join("  ") + " ";
    if (kind === "event" && id) {
      const a = document.createElement("a");
      a.href = live.dataset.events + encodeURIComponent(id);
      a.textContent = item.provider_event_id || id;
      li.appendChild(a);
    }
    li.className = kind + (item.status >= 300 ? " rejected" : "");
    live.prepend(li);
    while (live.children.length > 200) live.lastChild.remove();
  };
  source.onopen = () => { status.textContent = "Connected."; };
  source.onerror = () => { status.textContent = "Disconnected; retrying…"; };
  source.onmessage = (e) => show("message", e.data);
  ["event", "request"].forEach((kind) => source.addEventListener(kind, (e) => show(kind, e.data)));
}
