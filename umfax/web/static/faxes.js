// Live status of sent faxes: server-sent events from /faxes/events update the page in place.
"use strict";
(function () {
  const detail = document.querySelector("[data-live-job]");
  const list = document.querySelector("[data-live-list]");
  if (!detail && !list) { return; }
  const note = document.getElementById("live-note");
  const url = detail ? "/faxes/events?job=" + encodeURIComponent(detail.dataset.liveJob) : "/faxes/events";
  const source = new EventSource(url);
  window.umfaxLive = { source: source, received: [] };
  function set(root, field, text) {
    const node = root.querySelector('[data-field="' + field + '"]');
    if (node) { node.textContent = text; }
  }
  source.addEventListener("status", function (message) {
    const update = JSON.parse(message.data);
    window.umfaxLive.received.push(update);
    document.querySelectorAll('[data-job="' + update.job + '"]').forEach(function (root) {
      set(root, "state", update.state);
      set(root, "status", update.status === update.state ? "" : update.status);
      set(root, "pages", update.pages_done + " of " + update.page_count);
      const state = root.querySelector('[data-field="state"]');
      if (state) { state.className = "state state-" + update.state; }
    });
    if (note) { note.textContent = "Fax " + update.job + ": " + (update.message || update.state); }
  });
  source.addEventListener("open", function () { document.body.dataset.live = "open"; });
})();
