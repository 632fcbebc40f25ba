// Ablage upload: drag and drop of many files, one request per file with its own progress bar,
// then each file's result (accepted / duplicate / rejected with the reason) and its processing
// progress until it is final. Without this script the form posts all files at once.
(function () {
  "use strict";

  var PARALLEL = 3; // requests at once: enough to fill the line, few enough to keep order visible
  var POLL_MS = 2000;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // never innerHTML: names and reasons are user data
    return node;
  }

  function csrfToken(form) {
    var field = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  function refreshList() {
    if (window.htmx) window.htmx.trigger(document.body, "documents-changed");
  }

  // One line in the result list: name, progress bar, status text.
  function resultLine(list, name, labels) {
    var item = element("li", "pending");
    var title = element("span", "name", name);
    var bar = element("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", name);
    var state = element("span", "state", labels.uploading);
    item.append(title, " ", bar, " ", state);
    list.append(item);
    return { item: item, title: title, bar: bar, state: state };
  }

  function showResult(line, result, labels) {
    line.bar.remove();
    var kind = result.status === "rejected" ? "error" : result.status === "duplicate" ? "ok duplicate" : "ok";
    line.item.className = kind;
    if (result.name) line.title.textContent = result.name;
    if (result.document) {
      var link = element("a", "", line.title.textContent);
      link.href = result.document.url;
      line.title.replaceChildren(link);
    }
    line.state.textContent = (labels[result.status] || result.status) + ": " + result.message;
    if (result.status === "rejected") line.state.setAttribute("role", "alert");
    if (result.document) watch(line, result.document.progress_url);
  }

  // Live processing state after the upload, until the document is final.
  function watch(line, url) {
    var processing = element("span", "processing");
    line.item.append(" ", processing);
    var poll = function () {
      var request = new XMLHttpRequest();
      request.open("GET", url);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-Ablage-Background", "1");  // polling is no activity (session idle timeout)
      request.onload = function () {
        if (request.status !== 200) return;
        var state = JSON.parse(request.responseText);
        processing.textContent = "· " + state.status_display + (state.progress ? " – " + state.progress : "") +
          (state.final && state.reason ? " – " + state.reason : "");
        processing.className = "processing status-" + state.status;
        if (state.final) refreshList();
        else setTimeout(poll, POLL_MS);
      };
      request.send();
    };
    poll();
  }

  function send(form, files, list, labels, combine, done) {
    var name = combine ? files.map(function (file) { return file.name; }).join(" + ") : files[0].name;
    var line = resultLine(list, name, labels);
    var data = new FormData();
    data.append("csrfmiddlewaretoken", csrfToken(form));
    files.forEach(function (file) { data.append("files", file); });
    if (combine) data.append("combine", "1");
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRFToken", csrfToken(form));
    request.upload.onprogress = function (event) {
      if (event.lengthComputable) line.bar.value = Math.round((event.loaded / event.total) * 100);
    };
    request.onload = function () {
      var body;
      try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
      if (!body || !body.results || !body.results.length) {
        showResult(line, { status: "rejected", name: name, message: labels.failed + " (" + request.status + ")" }, labels);
      } else {
        body.results.forEach(function (result, index) {
          // A ZIP archive answers with one result per entry: one line each.
          var target = index === 0 ? line : resultLine(list, result.name, labels);
          showResult(target, result, labels);
        });
      }
      refreshList();
      done();
    };
    request.onerror = function () {
      showResult(line, { status: "rejected", name: name, message: labels.failed }, labels);
      done();
    };
    request.send(data);
  }

  function upload(form, files) {
    if (!files.length) return;
    var list = form.parentNode.querySelector(".upload-results");
    var labels = {
      accepted: form.dataset.labelAccepted,
      duplicate: form.dataset.labelDuplicate,
      rejected: form.dataset.labelRejected,
      uploading: form.dataset.labelUploading,
      failed: form.dataset.labelFailed,
    };
    var combine = form.querySelector('input[name="combine"]');
    if (combine && combine.checked && files.length > 1) {
      send(form, files, list, labels, true, function () {});
      return;
    }
    var queue = files.slice();
    var next = function () {
      var file = queue.shift();
      if (file) send(form, [file], list, labels, false, next);
    };
    for (var slot = 0; slot < PARALLEL; slot++) next();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(function (form) {
      var input = form.querySelector('input[type="file"]');
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        upload(form, Array.prototype.slice.call(input.files));
        input.value = "";
      });
      ["dragenter", "dragover"].forEach(function (type) {
        form.addEventListener(type, function (event) { event.preventDefault(); form.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        form.addEventListener(type, function () { form.classList.remove("over"); });
      });
      form.addEventListener("drop", function (event) {
        event.preventDefault();
        upload(form, Array.prototype.slice.call(event.dataTransfer.files));
      });
    });
  });
})();
