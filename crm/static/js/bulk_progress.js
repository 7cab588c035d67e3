// A bulk issuance's progress bar: polls the status endpoint while the job runs, and
// reloads the page once it stops (done, failed or stalled) to offer the download or the
// resume button. Without script the page shows the numbers and a refresh link.
(function () {
  "use strict";
  var box = document.querySelector("[data-bulk-progress]");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var status = box.getAttribute("data-status");
  if (box.getAttribute("data-resumable") === "1" || (status !== "queued" && status !== "running")) {
    return;
  }
  var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };
  var refresh = field("refresh");
  if (refresh) { refresh.hidden = true; }
  var delay = 1500;

  function show(data) {
    ["total", "issued", "rendered"].forEach(function (name) {
      var el = field(name);
      if (el) { el.textContent = data[name]; }
    });
    field("bar").setAttribute("aria-valuenow", data.percent);
    var fill = field("fill");
    fill.style.width = data.percent + "%";
    fill.textContent = data.percent + "%";
    var label = document.querySelector("[data-bulk-status-label]");
    if (label && data.status_label) { label.textContent = data.status_label; }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.resumable || (data.status !== "queued" && data.status !== "running")) {
          window.location.reload();
          return;
        }
        delay = 1500;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // The server is busy or restarting: try again, less often, and keep the link.
        if (refresh) { refresh.hidden = false; }
        delay = Math.min(delay * 2, 30000);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
