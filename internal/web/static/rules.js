// The rule editor's form, made quicker with JavaScript: condition rows are
// added and removed in place, the header box shows only for the header
// field and the redirect address only for the redirect action. Without
// JavaScript the same buttons post the form, which comes back with the
// input kept and nothing saved (internal/web/rules.go).
(function () {
  "use strict";
  var form = document.querySelector("[data-rule-form]");
  if (!form) return;
  var list = form.querySelector("[data-conds]");
  var MAX = parseInt(form.getAttribute("data-max-conds"), 10) || 30; // maxCondRows in rules.go

  // Hints written for pages without JavaScript ("only for the header
  // field") are not needed once boxes come and go by themselves.
  form.querySelectorAll("[data-nojs-hint]").forEach(function (el) { hide(el, true); });

  // hide hides el; the style too, since a stylesheet's display: block
  // (.stack label) wins over the hidden attribute.
  function hide(el, off) {
    el.hidden = off;
    el.style.display = off ? "none" : "";
  }

  // show shows or hides a label and enables or disables its input: a
  // hidden box is not posted.
  function show(label, on) {
    hide(label, !on);
    label.querySelectorAll("input, select, textarea").forEach(function (i) { i.disabled = !on; });
  }

  // syncRow shows the header box for the header field only, and offers
  // only the comparisons the field takes (data-ops on its option).
  function syncRow(row) {
    var field = row.querySelector("[data-cond-field]");
    var header = row.querySelector("[data-cond-header]");
    var op = row.querySelector("[data-cond-op]");
    if (!field) return;
    if (header) show(header, field.value === "header");
    if (!op) return;
    var chosen = field.options[field.selectedIndex];
    var allowed = chosen && chosen.getAttribute("data-ops");
    var ok = allowed ? allowed.split(" ") : null;
    Array.prototype.forEach.call(op.options, function (o) {
      o.disabled = ok !== null && ok.indexOf(o.value) < 0;
    });
    if (op.options[op.selectedIndex] && op.options[op.selectedIndex].disabled) {
      for (var i = 0; i < op.options.length; i++) {
        if (!op.options[i].disabled) { op.selectedIndex = i; break; }
      }
    }
  }

  function syncAction() {
    var action = form.querySelector("[data-rule-action]");
    if (!action) return;
    form.querySelectorAll("[data-only-action]").forEach(function (el) {
      show(el, el.getAttribute("data-only-action") === action.value);
    });
    form.querySelectorAll("[data-action-help]").forEach(function (el) {
      hide(el, el.getAttribute("data-action-help") !== action.value);
    });
  }

  // renumber names the rows' inputs cond.0.*, cond.1.*, … in order, as the
  // server reads them.
  function renumber() {
    list.querySelectorAll("[data-cond]").forEach(function (row, i) {
      row.querySelectorAll("[name^='cond.']").forEach(function (el) {
        el.name = el.name.replace(/^cond\.\d+\./, "cond." + i + ".");
      });
      var rm = row.querySelector("[data-remove-cond]");
      if (rm) {
        rm.value = String(i);
        var sr = rm.querySelector(".sr");
        if (sr) sr.textContent = " " + (i + 1);
      }
    });
  }

  function emptyRow() {
    var rows = list.querySelectorAll("[data-cond]");
    var row = rows[rows.length - 1].cloneNode(true);
    row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    row.querySelectorAll("input").forEach(function (el) { el.value = ""; });
    row.querySelectorAll("select").forEach(function (el) { el.selectedIndex = 0; });
    return row;
  }

  form.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-cond]");
    var rm = e.target.closest("[data-remove-cond]");
    if (add) {
      e.preventDefault();
      if (list.querySelectorAll("[data-cond]").length >= MAX) return;
      var row = emptyRow();
      list.appendChild(row);
      renumber();
      syncRow(row);
      var first = row.querySelector("select");
      if (first) first.focus();
    } else if (rm) {
      e.preventDefault();
      var r = rm.closest("[data-cond]");
      if (list.querySelectorAll("[data-cond]").length === 1) {
        list.appendChild(emptyRow()); // always one row to fill in
      }
      r.remove();
      renumber();
      list.querySelectorAll("[data-cond]").forEach(syncRow);
      var next = form.querySelector("[data-add-cond]");
      if (next) next.focus();
    }
  });

  form.addEventListener("change", function (e) {
    if (e.target.matches("[data-cond-field]")) syncRow(e.target.closest("[data-cond]"));
    if (e.target.matches("[data-rule-action]")) syncAction();
  });

  list.querySelectorAll("[data-cond]").forEach(syncRow);
  syncAction();
})();
