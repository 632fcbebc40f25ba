// Ablage: small progressive enhancements on top of server-rendered pages (htmx does the rest).
(function () {
  "use strict";

  // Review: highlight a field's box on the page image while its input is focused or hovered.
  function setActive(name, on) {
    document.querySelectorAll('.box[data-field="' + CSS.escape(name) + '"]').forEach(function (box) {
      box.classList.toggle("active", on);
      if (on && box.scrollIntoView) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
    });
    document.querySelectorAll('tr[data-field="' + CSS.escape(name) + '"]').forEach(function (row) {
      row.classList.toggle("active", on);
    });
  }
  document.addEventListener("focusin", function (event) {
    var name = event.target.dataset && event.target.dataset.field;
    if (name && event.target.tagName === "INPUT") setActive(name, true);
  });
  document.addEventListener("focusout", function (event) {
    var name = event.target.dataset && event.target.dataset.field;
    if (name && event.target.tagName === "INPUT") setActive(name, false);
  });

  // Review: Ctrl+Enter approves.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var approve = document.querySelector('#review-form button[value="approve"]');
      if (approve) { event.preventDefault(); approve.click(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Live updates over a websocket when the server has a channel layer; otherwise htmx polls.
    if (document.body.dataset.liveUpdates === "websocket") {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var connect = function (delay) {
        var socket = new WebSocket(scheme + location.host + "/ws/documents/");
        socket.onmessage = function () { htmx.trigger(document.body, "documents-changed"); };
        socket.onclose = function () { setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay); };
      };
      connect(1000);
    }
  });
})();
