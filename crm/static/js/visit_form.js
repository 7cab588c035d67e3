// The visit form's "add a row" buttons: copy the last row with the next index, emptied.
// Without script the form still posts the rows it shows.
(function () {
  "use strict";
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    var name = button.getAttribute("data-add-row");
    var box = document.querySelector('[data-rows="' + name + '"]');
    if (!box) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = box.querySelectorAll("[data-row]");
      var last = rows[rows.length - 1];
      var copy = last.cloneNode(true);
      var pattern = new RegExp("^" + name + "-\\d+-");
      var next = name + "-" + rows.length + "-";
      copy.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(pattern, next)); }
        });
        el.classList.remove("is-invalid");
        if (el.tagName === "SELECT") {
          el.value = el.getAttribute("data-default") || "";
          if (el.selectedIndex < 0) { el.selectedIndex = 0; }
        }
        else if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") { el.value = ""; }
      });
      copy.querySelectorAll(".invalid-feedback").forEach(function (el) { el.remove(); });
      box.appendChild(copy);
      var first = copy.querySelector("select, input, textarea");
      if (first) { first.focus(); }
    });
  });
})();
