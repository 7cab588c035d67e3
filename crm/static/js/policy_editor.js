// The policy editor's criteria rows: the comparisons an attribute allows, an input that
// fits its values (a list to choose from, yes/no, a number, the two ends of a range), rows
// added and removed, and the preview of how many firms each row keeps. Without script the
// rows are plain select boxes and a text box, which the server checks the same way.
(function () {
  "use strict";
  var form = document.querySelector("[data-policy-editor]");
  var specNode = document.getElementById("criteria-spec");
  if (!form || !specNode) { return; }
  var spec = JSON.parse(specNode.textContent);
  var box = form.querySelector("[data-criteria-rows]");
  var addButton = form.querySelector("[data-add-criterion]");
  var totalNode = form.querySelector("[data-preview-total]");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return values[key]; });
  }

  // The values a row holds now, whatever input shows them; text is split as the server does.
  function currentValues(row) {
    var values = [];
    row.querySelectorAll("[data-value-box] [name]").forEach(function (input) {
      if (input.tagName === "SELECT") {
        Array.prototype.forEach.call(input.selectedOptions, function (o) {
          if (o.value) { values.push(o.value); }
        });
      } else if (input.value.trim()) {
        var text = input.value.replace(/[;；，、\n]/g, ",");
        var parts = text.indexOf(",") >= 0 ? text.split(",") : text.split(/\s+/);
        parts.forEach(function (p) { if (p.trim()) { values.push(p.trim()); } });
      }
    });
    return values;
  }

  // A value typed as a label ("小型") or a code ("small") becomes the option's code.
  function toCode(choices, value) {
    for (var i = 0; i < choices.length; i++) {
      if (choices[i][0] === value || choices[i][1] === value) { return choices[i][0]; }
    }
    return value;
  }

  function select(name, choices, chosen, multiple) {
    var node = el("select", { name: name, "class": "form-select form-select-sm" });
    if (multiple) {
      node.multiple = true;
      node.size = Math.min(choices.length, 5);
      node.title = spec.texts.several;
    } else {
      node.appendChild(el("option", { value: "" }, "—"));
    }
    choices.forEach(function (choice) {
      var option = el("option", { value: choice[0] }, choice[1]);
      option.selected = chosen.indexOf(choice[0]) >= 0;
      node.appendChild(option);
    });
    return node;
  }

  function numberInput(name, value, unit) {
    var group = el("div", { "class": "input-group input-group-sm" });
    var input = el("input", { name: name, type: "number", min: "0", step: "any", "class": "form-control" });
    input.value = value || "";
    group.appendChild(input);
    if (unit) { group.appendChild(el("span", { "class": "input-group-text" }, unit)); }
    return group;
  }

  function valueInputs(attribute, operator, name, values) {
    var kind = attribute.kind;
    var choices = kind === "street" ? spec.streets : attribute.choices;
    var wrap = el("div", { "class": "d-flex flex-wrap gap-1 align-items-center" });
    if (kind === "bool") {
      var yesNo = [["yes", spec.texts.yes], ["no", spec.texts.no]];
      var bool = values[0] === "no" || values[0] === "false" ? ["no"] : ["yes"];
      wrap.appendChild(select(name, yesNo, bool, false));
      return wrap;
    }
    if (choices.length) {
      var codes = values.map(function (v) { return toCode(choices, v); });
      if (operator === "between") {
        wrap.appendChild(select(name, choices, codes.slice(0, 1), false));
        wrap.appendChild(el("span", { "class": "small" }, spec.texts.to));
        wrap.appendChild(select(name, choices, codes.slice(1, 2), false));
      } else {
        var many = operator === "in" || operator === "not_in";
        wrap.appendChild(select(name, choices, many ? codes : codes.slice(0, 1), many));
      }
      return wrap;
    }
    if (kind === "number") {
      if (operator === "between") {
        wrap.appendChild(numberInput(name, values[0], ""));
        wrap.appendChild(el("span", { "class": "small" }, spec.texts.to));
        wrap.appendChild(numberInput(name, values[1], attribute.unit));
      } else {
        wrap.appendChild(numberInput(name, values[0], attribute.unit));
      }
      return wrap;
    }
    var text = el("input", { name: name, type: "text", "class": "form-control form-control-sm" });
    text.placeholder = kind === "code" ? spec.texts.codes : spec.texts.tags;
    text.value = values.join(", ");
    wrap.appendChild(text);
    return wrap;
  }

  function refreshRow(row) {
    var attributeSelect = row.querySelector("[data-attribute]");
    var operatorSelect = row.querySelector("[data-operator]");
    var valueBox = row.querySelector("[data-value-box]");
    var name = row.getAttribute("data-row") + "-value";
    var attribute = spec.attributes[attributeSelect.value];
    var values = currentValues(row);
    var chosen = operatorSelect.value;
    operatorSelect.innerHTML = "";
    var allowed = attribute ? attribute.operators : [];
    if (!attribute) { operatorSelect.appendChild(el("option", { value: "" }, "—")); }
    allowed.forEach(function (key) {
      operatorSelect.appendChild(el("option", { value: key }, spec.operators[key]));
    });
    operatorSelect.value = allowed.indexOf(chosen) >= 0 ? chosen : (allowed[0] || "");
    operatorSelect.disabled = !attribute;
    var label = valueBox.querySelector("label");
    valueBox.innerHTML = "";
    if (label) { valueBox.appendChild(label); }
    if (!attribute) {
      valueBox.appendChild(el("input", { name: name, type: "hidden", value: "" }));
      return;
    }
    valueBox.appendChild(valueInputs(attribute, operatorSelect.value, name, values));
  }

  function renumber(row, index) {
    var old = row.getAttribute("data-row");
    var next = "criteria-" + index;
    row.setAttribute("data-row", next);
    row.querySelectorAll("[name], [id], label[for]").forEach(function (node) {
      ["name", "id", "for"].forEach(function (attr) {
        var value = node.getAttribute(attr);
        if (value && value.indexOf(old + "-") === 0) {
          node.setAttribute(attr, next + value.slice(old.length));
        }
      });
    });
  }

  function rows() { return box.querySelectorAll("[data-criterion-row]"); }

  function nextIndex() {
    var highest = -1;
    rows().forEach(function (row) {
      highest = Math.max(highest, parseInt(row.getAttribute("data-row").split("-")[1], 10));
    });
    return highest + 1;
  }

  function clearRow(row) {
    row.querySelector("[data-attribute]").value = "";
    row.querySelector("[data-operator]").value = "";
    row.querySelectorAll("[data-value-box] [name]").forEach(function (input) { input.value = ""; });
    row.querySelectorAll(".invalid-feedback").forEach(function (node) { node.remove(); });
    row.querySelectorAll(".is-invalid").forEach(function (node) { node.classList.remove("is-invalid"); });
    row.querySelector("[data-count]").textContent = "";
    refreshRow(row);
  }

  function enhance(row) {
    row.querySelector("[data-attribute]").addEventListener("change", function () {
      refreshRow(row);
      schedulePreview();
    });
    row.querySelector("[data-operator]").addEventListener("change", function () {
      refreshRow(row);
      schedulePreview();
    });
    var remove = row.querySelector("[data-remove-row]");
    remove.hidden = false;
    remove.addEventListener("click", function () {
      if (rows().length > 1) { row.remove(); } else { clearRow(row); }
      schedulePreview();
    });
    refreshRow(row);
  }

  // -- the preview: counts next to each row, refreshed a moment after each change.
  var timer = null;
  var pending = null;

  function schedulePreview() {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 400);
  }

  function preview() {
    if (pending) { pending.abort(); }
    pending = new AbortController();
    var body = new FormData(form);
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      body: body,
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
      signal: pending.signal
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(showCounts).catch(function (error) {
      if (error.name !== "AbortError") { totalNode.textContent = spec.texts.failed; }
    });
  }

  function showCounts(data) {
    totalNode.textContent = format(spec.texts.total, { total: data.total });
    rows().forEach(function (row) { row.querySelector("[data-count]").textContent = ""; });
    data.rows.forEach(function (item) {
      var row = box.querySelector('[data-row="' + item.row + '"]');
      if (!row) { return; }
      var node = row.querySelector("[data-count]");
      node.classList.toggle("text-danger", Boolean(item.error));
      if (item.error) { node.textContent = item.error; return; }
      var parts = [format(spec.texts.kept, item)];
      if (item.unknown) { parts.push(format(spec.texts.unknown, item)); }
      parts.push(format(spec.texts.remaining, item));
      node.textContent = parts.join(" · ");
    });
  }

  rows().forEach(enhance);
  form.addEventListener("input", function (event) {
    if (event.target.closest("[data-value-box]")) { schedulePreview(); }
  });
  form.addEventListener("change", function (event) {
    if (event.target.closest("[data-value-box]")) { schedulePreview(); }
  });
  addButton.hidden = false;
  addButton.addEventListener("click", function () {
    var all = rows();
    var copy = all[all.length - 1].cloneNode(true);
    renumber(copy, nextIndex());
    box.appendChild(copy);
    clearRow(copy);
    enhance(copy);
    copy.querySelector("[data-attribute]").focus();
  });
  preview();
})();
