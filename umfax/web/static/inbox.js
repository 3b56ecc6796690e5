// The received-fax viewer: zoom and rotate the page images with CSS classes (no inline style).
"use strict";
(function () {
  const viewer = document.querySelector("[data-viewer]");
  if (!viewer) { return; }
  const zooms = [100, 150, 200, 300];
  let zoom = 0;
  let rotation = 0;
  const state = document.querySelector("[data-view-state]");
  function apply() {
    viewer.className = "viewer";
    if (zoom > 0) { viewer.classList.add("zoomed", "zoom-" + zooms[zoom]); }
    if (rotation) { viewer.classList.add("rot-" + rotation); }
    if (state) { state.textContent = zooms[zoom] + " %, rotated " + rotation + "°"; }
  }
  document.querySelectorAll("[data-view]").forEach(function (button) {
    button.addEventListener("click", function () {
      const what = button.dataset.view;
      if (what === "zoom-in") { zoom = Math.min(zoom + 1, zooms.length - 1); }
      if (what === "zoom-out") { zoom = Math.max(zoom - 1, 0); }
      if (what === "rotate") { rotation = (rotation + 90) % 360; }
      apply();
    });
  });
})();
