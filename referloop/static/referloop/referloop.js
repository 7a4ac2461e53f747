// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // Select menus that act at once (the agency switcher): no extra button press needed.
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    // Forms with errors: move focus to the summary so screen readers and keyboards land there.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
    document.querySelectorAll("[data-shortcuts-open]").forEach(function (button) {
      button.addEventListener("click", openShortcuts);
    });
    // Copy buttons (tracking IDs people read out or paste into e-mails).
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        if (source && navigator.clipboard) {
          navigator.clipboard.writeText(source.textContent.trim()).then(function () {
            button.textContent = "Copied";
          });
        }
      });
    });
  });

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) { dialog.showModal(); }
  }
  // Keyboard: "?" lists the shortcuts; "/" focuses search, "l" logs, "e" edits; on lists j/k move the selection and
  // Enter opens its action.
  var selected = -1;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "/") {
      var search = document.querySelector("input[type=search]");
      if (search) { event.preventDefault(); search.focus(); }
      return;
    }
    if (event.key === "l") {  // "log": jump into the page's log form (a follow-up, a call)
      var logForm = document.querySelector("[data-shortcut=l]");
      if (logForm) {
        event.preventDefault();
        logForm.closest("form").querySelector("select, textarea, input:not([type=hidden])").focus();
      }
      return;
    }
    if (event.key === "?") {
      openShortcuts();
      event.preventDefault();
      return;
    }
    if (event.key === "e") {  // "edit": open the page's edit form (a client, a listing)
      var edit = document.querySelector("[data-shortcut=e]");
      if (edit) { event.preventDefault(); edit.click(); }
      return;
    }
    var rows = Array.prototype.slice.call(document.querySelectorAll(
      "[data-keyboard-list] > li, [data-keyboard-list] > tbody > tr"));
    if (!rows.length) { return; }
    if (event.key === "j" || event.key === "k") {
      selected = Math.max(0, Math.min(rows.length - 1, selected + (event.key === "j" ? 1 : -1)));
      rows.forEach(function (row, index) { row.classList.toggle("is-selected", index === selected); });
      var action = rows[selected].querySelector("a, button");
      if (action) { action.focus(); }
      event.preventDefault();
    } else if (event.key === "Enter" && selected >= 0 && rows[selected]) {
      var link = rows[selected].querySelector("a");
      if (link && document.activeElement !== link) { link.click(); event.preventDefault(); }
    }
  });
})();
