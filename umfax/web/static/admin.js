// umfax console, admin pages: refresh the lines table every few seconds.  Without this
// script the page has a reload link; with it, the table is fetched as an HTML fragment.
"use strict";

(function () {
  const live = document.getElementById("lines-live");
  if (!live) {
    return;
  }
  const url = live.dataset.refreshUrl;
  const seconds = Math.max(1, Number(live.dataset.refreshSeconds) || 3);
  const status = document.getElementById("lines-status");

  async function refresh() {
    if (document.hidden) {
      return;
    }
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok || response.redirected) {
        if (status) { status.textContent = "Live updates stopped: reload the page."; }
        window.clearInterval(timer);
        return;
      }
      live.innerHTML = await response.text();
      if (status) { status.textContent = ""; }
    } catch (error) {
      if (status) { status.textContent = "Cannot reach the server; trying again."; }
    }
  }

  const timer = window.setInterval(refresh, seconds * 1000);
})();
