// The send form's enhancements: drop files on the box, see what is chosen, and send the
// browser's time zone with "send at".  Without this script the form works the same.
"use strict";
(function () {
  const form = document.getElementById("send-form");
  if (!form) { return; }
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const list = document.getElementById("file-list");
  const offset = document.getElementById("tz-offset");
  const sendAt = document.getElementById("send_at");
  const warning = document.getElementById("file-warning");
  const maxBytes = Number(form.dataset.maxBytes || 0);

  function totalBytes() {
    let total = 0;
    for (const file of input.files) { total += file.size; }
    return total;
  }

  function sizeText(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " kB";
  }

  function showFiles() {
    list.replaceChildren();
    for (const file of input.files) {
      const item = document.createElement("li");
      item.textContent = file.name + " (" + sizeText(file.size) + ")";
      list.appendChild(item);
    }
  }

  function addFiles(files) {
    const all = new DataTransfer();
    for (const file of input.files) { all.items.add(file); }
    for (const file of files) { all.items.add(file); }
    input.files = all.files;
    showFiles();
  }

  input.addEventListener("change", showFiles);
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) { addFiles(event.dataTransfer.files); }
  });
  form.addEventListener("submit", function (event) {
    if (maxBytes && totalBytes() > maxBytes) {
      event.preventDefault();
      warning.textContent = "The files are " + sizeText(totalBytes()) + " together; the server takes at most " +
        sizeText(maxBytes) + ". Send fewer or smaller files.";
      warning.hidden = false;
      return;
    }
    warning.hidden = true;
    // minutes west of UTC at the chosen time (daylight saving may differ from today's)
    const when = sendAt.value ? new Date(sendAt.value) : new Date();
    offset.value = String((isNaN(when.getTime()) ? new Date() : when).getTimezoneOffset());
  });
})();
