// Ablage review screen: page viewer, field highlights, click-to-assign, inline validation marks,
// keyboard flow. Loaded as a file (the CSP allows no inline script); does nothing on other pages.
(function () {
  "use strict";

  var ZOOM_STEPS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
  var zoomIndex = 2;
  var rotation = 0;
  var lastField = null;

  function placeBoxes(root) {
    // Positions come as data attributes: inline style attributes would need 'unsafe-inline'.
    (root || document).querySelectorAll("[data-box]").forEach(function (box) {
      box.style.left = box.dataset.left + "%";
      box.style.top = box.dataset.top + "%";
      box.style.width = box.dataset.width + "%";
      box.style.height = box.dataset.height + "%";
    });
  }

  function applyView() {
    document.querySelectorAll(".page-canvas").forEach(function (canvas) {
      canvas.style.width = ZOOM_STEPS[zoomIndex] * 100 + "%";
      canvas.classList.remove("rot-90", "rot-180", "rot-270");
      if (rotation) canvas.classList.add("rot-" + rotation);
    });
    var level = document.getElementById("zoom-level");
    if (level) level.textContent = Math.round(ZOOM_STEPS[zoomIndex] * 100) + " %";
  }

  function zoom(step) {
    zoomIndex = step === 0 ? 2 : Math.max(0, Math.min(ZOOM_STEPS.length - 1, zoomIndex + step));
    applyView();
  }

  function setActive(name, on) {
    document.querySelectorAll('.box[data-field="' + CSS.escape(name) + '"]').forEach(function (box) {
      box.classList.toggle("active", on);
      if (on && box.scrollIntoView) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
    });
    document.querySelectorAll('tr[data-field="' + CSS.escape(name) + '"]').forEach(function (row) {
      row.classList.toggle("active", on);
    });
  }

  function isFieldInput(element) {
    return element && element.classList && element.classList.contains("field-input");
  }

  function isTyping(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function markInvalid() {
    // After each validation round trip: mark exactly the fields the server named, clear the rest.
    var named = {};
    document.querySelectorAll("#validation [data-fields]").forEach(function (item) {
      item.dataset.fields.split(" ").forEach(function (name) { if (name) named[name] = item.textContent.trim(); });
    });
    document.querySelectorAll("#review-form .field-input").forEach(function (input) {
      var name = input.dataset.field;
      var hint = document.getElementById("hint_" + name);
      if (named[name]) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
        if (hint) hint.textContent = "";
      }
    });
  }

  function fieldInputs() {
    // Fields, then the line-item cells, in document order; the rejection reason is not part of the flow.
    return Array.prototype.slice.call(
      document.querySelectorAll('#review-form input[type="text"]:not([readonly]):not(#reject-reason)')
    );
  }

  function click(selector) {
    var element = document.querySelector(selector);
    if (element) element.click();
    return !!element;
  }

  function init() {
    var form = document.querySelector("[data-review-form]");
    if (!document.querySelector("[data-review]")) return;
    placeBoxes();
    applyView();

    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () { zoom(parseInt(button.dataset.zoom, 10)); });
    });
    var rotate = document.querySelector("[data-rotate]");
    if (rotate) rotate.addEventListener("click", function () { rotation = (rotation + 90) % 360; applyView(); });

    document.addEventListener("focusin", function (event) {
      if (isFieldInput(event.target)) { lastField = event.target; setActive(event.target.dataset.field, true); }
    });
    document.addEventListener("focusout", function (event) {
      if (isFieldInput(event.target)) setActive(event.target.dataset.field, false);
    });
    document.querySelectorAll("tr[data-field]").forEach(function (row) {
      row.addEventListener("mouseenter", function () { setActive(row.dataset.field, true); });
      row.addEventListener("mouseleave", function () {
        if (!lastField || lastField !== document.activeElement || lastField.dataset.field !== row.dataset.field) {
          setActive(row.dataset.field, false);
        }
      });
    });

    // Click-to-assign: a word on the page fills the field that had focus last (Shift appends).
    document.querySelectorAll(".word").forEach(function (word) {
      word.addEventListener("mousedown", function (event) { event.preventDefault(); });
      word.addEventListener("click", function (event) {
        if (!lastField || lastField.readOnly) return;
        var text = word.dataset.text;
        lastField.value = event.shiftKey && lastField.value ? lastField.value + " " + text : text;
        lastField.dispatchEvent(new Event("input", { bubbles: true }));
        lastField.focus();
      });
    });

    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target && event.target.id === "validation") markInvalid();
    });
    // The processing page swaps <main> when the document is ready: position the new boxes.
    document.body.addEventListener("htmx:afterSettle", function () { placeBoxes(); applyView(); });

    var help = document.getElementById("shortcuts");
    document.querySelectorAll("[data-shortcuts-open]").forEach(function (button) {
      button.addEventListener("click", function () { if (help) help.showModal(); });
    });

    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        if (click('#review-form button[value="approve"]')) event.preventDefault();
        return;
      }
      if (event.key === "Enter" && target.id === "reject-reason") {
        event.preventDefault();
        click('#review-form button[value="reject"]');
        return;
      }
      if (event.key === "Enter" && form && form.contains(target) && target.tagName === "INPUT") {
        // Enter confirms the field and moves on; it never submits the whole form by accident.
        event.preventDefault();
        var inputs = fieldInputs();
        var next = inputs[inputs.indexOf(target) + 1];
        if (next) next.focus(); else target.blur();
        return;
      }
      if (event.key === "Escape" && isTyping(target)) { target.blur(); return; }
      if (isTyping(target) || event.ctrlKey || event.metaKey || event.altKey) return;
      switch (event.key) {
        case "?":
          if (help) { event.preventDefault(); help.showModal(); }
          break;
        case "a":
          if (click('#review-form button[value="approve"]')) event.preventDefault();
          break;
        case "r":
          var reject = document.getElementById("reject");
          if (reject) { event.preventDefault(); reject.open = true; document.getElementById("reject-reason").focus(); }
          break;
        case "s":
          if (click("#skip-form button")) event.preventDefault();
          break;
        case "n":
          if (click("#next-form button")) event.preventDefault();
          break;
        case "+":
          event.preventDefault(); zoom(1);
          break;
        case "-":
          event.preventDefault(); zoom(-1);
          break;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
