/* The block editor: fields per block type, ordering, the variables menu and the live
   preview (the unsaved form posted to the admin's preview endpoint). No libraries. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var side = document.getElementById("pp-editor-side");
    if (!side) return;
    var form = document.querySelector("#content-main form");
    var frame = document.getElementById("pp-preview-frame");
    var subject = document.getElementById("pp-preview-subject");
    var errorBox = document.getElementById("pp-preview-error");
    var types = JSON.parse(document.getElementById("pp-block-types").textContent);
    var previewUrl = document.getElementById("pp-preview-url").value;
    var objectId = document.getElementById("pp-object-id").value;
    var group = document.getElementById("blocks-group");
    var lastField = null;

    function blockRows() {
      if (!group) return [];
      return Array.prototype.filter.call(group.querySelectorAll(".inline-related"), function (row) {
        return !row.classList.contains("empty-form") && row.id && !/__prefix__/.test(row.id);
      });
    }

    function field(row, name) {
      return row.querySelector("[name$='-" + name + "']");
    }

    /* Show only the fields the chosen block type uses. */
    function showFields(row) {
      var kind = field(row, "kind");
      if (!kind) return;
      var type = types[kind.value] || { fields: [], help: "" };
      ["text", "label", "link", "url", "alt", "size"].forEach(function (name) {
        var line = row.querySelector(".field-" + name);
        var hidden = type.fields.indexOf(name) === -1;
        /* A button's own address only matters for "another address". */
        var link = field(row, "link");
        if (name === "url" && kind.value !== "image" && link && link.value !== "custom") hidden = true;
        if (line) line.classList.toggle("pp-hidden-field", hidden);
      });
      var help = row.querySelector(".pp-block-help");
      if (!help) {
        help = document.createElement("p");
        help.className = "pp-block-help";
        var kindLine = row.querySelector(".field-kind");
        if (kindLine) kindLine.appendChild(help);
      }
      help.textContent = type.help || "";
    }

    /* Positions follow the order on the page: 1, 2, 3... */
    function renumber() {
      blockRows().forEach(function (row, index) {
        var position = field(row, "position");
        if (position) position.value = index + 1;
      });
    }

    function move(row, step) {
      var rows = blockRows();
      var index = rows.indexOf(row);
      var other = rows[index + step];
      if (!other) return;
      if (step < 0) other.parentNode.insertBefore(row, other);
      else other.parentNode.insertBefore(other, row);
      renumber();
      schedule();
    }

    function addMoveButtons(row) {
      if (row.querySelector(".pp-move")) return;
      var title = row.querySelector("h3");
      if (!title) return;
      [[-1, side.dataset.up, "↑"], [1, side.dataset.down, "↓"]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "pp-move";
        button.textContent = spec[2];
        button.title = spec[1];
        button.setAttribute("aria-label", spec[1]);
        button.addEventListener("click", function (event) {
          event.preventDefault();
          move(row, spec[0]);
        });
        title.appendChild(button);
      });
    }

    function prepare(row) {
      showFields(row);
      addMoveButtons(row);
    }

    blockRows().forEach(prepare);
    document.addEventListener("formset:added", function (event) {
      var row = event.target;
      if (!row || !row.closest || !row.closest("#blocks-group")) return;
      /* A new block goes last. */
      var highest = 0;
      blockRows().forEach(function (other) {
        var value = parseInt((field(other, "position") || {}).value, 10);
        if (other !== row && value > highest) highest = value;
      });
      var position = field(row, "position");
      if (position) position.value = highest + 1;
      prepare(row);
      schedule();
    });
    document.addEventListener("formset:removed", function () { renumber(); schedule(); });

    /* The editor switch: blocks or raw MJML. */
    var editor = form.querySelector("[name='editor']");
    function showEditor() {
      if (!editor) return;
      var blocks = editor.value === "blocks";
      if (group) group.classList.toggle("pp-hidden-field", !blocks);
      var mjml = form.querySelector("fieldset.pp-mjml");
      if (mjml) mjml.classList.toggle("pp-hidden-field", blocks);
    }
    if (editor) editor.addEventListener("change", showEditor);
    showEditor();

    /* Variables: remember the last text field, insert {{ name }} at its cursor. */
    form.addEventListener("focusin", function (event) {
      var target = event.target;
      if (target.matches && target.matches("textarea, input[type=text]")) lastField = target;
    });
    side.querySelectorAll(".pp-variable").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = lastField || form.querySelector(".pp-variable-target");
        if (!target) return;
        var token = "{{ " + button.dataset.name + " }}";
        var start = target.selectionStart == null ? target.value.length : target.selectionStart;
        var end = target.selectionEnd == null ? start : target.selectionEnd;
        target.value = target.value.slice(0, start) + token + target.value.slice(end);
        target.focus();
        target.selectionStart = target.selectionEnd = start + token.length;
        target.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });

    /* Width toggle. */
    var width = 640;
    side.querySelectorAll(".pp-width").forEach(function (button) {
      button.addEventListener("click", function () {
        width = parseInt(button.dataset.width, 10);
        frame.style.width = width + "px";
        side.querySelectorAll(".pp-width").forEach(function (other) {
          other.setAttribute("aria-pressed", other === button ? "true" : "false");
        });
        frame.dispatchEvent(new Event("load"));
      });
    });

    /* The frame is as tall as the email (frame.js); a counter tells tests it reloaded. */
    window.ppWatchFrame(frame);
    frame.addEventListener("load", function () {
      frame.dataset.version = String(parseInt(frame.dataset.version || "0", 10) + 1);
    });

    /* The preview: the whole form, posted unsaved, at most one request in flight. */
    var timer = null;
    var running = false;
    var again = false;
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    }
    function refresh() {
      if (running) { again = true; return; }
      running = true;
      var data = new FormData(form);
      data.append("pp_object_id", objectId);
      data.append("pp_order", document.getElementById("pp-order").value);
      fetch(previewUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") || "" }
      }).then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.json();
      }).then(function (result) {
        var problems = (result.errors || []).slice();
        if (result.error) problems.unshift(result.error);
        errorBox.hidden = problems.length === 0;
        errorBox.textContent = problems.join(" ");
        if (result.html !== undefined) {
          subject.textContent = result.subject;
          frame.srcdoc = result.html;
        }
      }).catch(function (error) {
        errorBox.hidden = false;
        errorBox.textContent = String(error);
      }).then(function () {
        running = false;
        if (again) { again = false; refresh(); }
      });
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", function (event) {
      var row = event.target.closest && event.target.closest(".inline-related");
      if (row && event.target.name && /-(kind|link)$/.test(event.target.name)) showFields(row);
      schedule();
    });
    document.getElementById("pp-order").addEventListener("change", refresh);
    refresh();
  });
})();
