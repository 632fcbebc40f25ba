// Ablage: small progressive enhancements on top of server-rendered pages (htmx does the rest).
(function () {
  "use strict";

  // Inbox: ticked rows survive the table's live refresh (htmx replaces the rows).
  var selected = new Set();
  function syncSelection() {
    var boxes = document.querySelectorAll('input[name="ids"][form="bulk-form"]');
    boxes.forEach(function (box) { box.checked = selected.has(box.value); });
    var all = document.querySelector("[data-select-all]");
    if (all) all.checked = boxes.length > 0 && Array.prototype.every.call(boxes, function (box) { return box.checked; });
    var count = document.getElementById("bulk-count");
    if (count) count.textContent = selected.size ? selected.size + " " + count.dataset.suffix : "";
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "ids" && target.getAttribute("form") === "bulk-form") {
      if (target.checked) selected.add(target.value); else selected.delete(target.value);
      syncSelection();
    } else if (target.hasAttribute && target.hasAttribute("data-select-all")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) {
        if (target.checked) selected.add(box.value); else selected.delete(box.value);
      });
      syncSelection();
    }
  });
  document.addEventListener("htmx:afterSettle", syncSelection);

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
      // Notification centre: a new or read notification refreshes the bell and the open list.
      var connectNotifications = function (delay) {
        var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
        socket.onmessage = function () { htmx.trigger(document.body, "notifications-changed"); };
        socket.onclose = function (event) {
          if (event.code === 4401) return;  // signed out: do not knock again
          setTimeout(function () { connectNotifications(Math.min(delay * 2, 30000)); }, delay);
        };
      };
      if (document.getElementById("notification-bell")) connectNotifications(1000);
    }
  });
})();
