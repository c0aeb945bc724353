/* Move a step up or down in the flow editor: the step's form moves on the page, and
   the position fields of the steps are numbered 1, 2, 3 ... in the order shown. Saving
   keeps that order (the server renumbers too). No library, no network. */
(function () {
  "use strict";

  function stepForms(group) {
    return Array.prototype.filter.call(group.children, function (el) {
      return el.classList.contains("inline-related") && !el.classList.contains("empty-form") &&
        el.querySelector("input[name$='-position']");
    });
  }

  function renumber(group) {
    var number = 1;
    stepForms(group).forEach(function (form) {
      var deleted = form.querySelector("input[name$='-DELETE']");
      if (deleted && deleted.checked) {
        return;
      }
      form.querySelector("input[name$='-position']").value = number;
      number += 1;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-pp-move]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var form = button.closest(".inline-related");
    var group = form.parentNode;
    var forms = stepForms(group);
    var index = forms.indexOf(form);
    var up = button.getAttribute("data-pp-move") === "up";
    var other = forms[up ? index - 1 : index + 1];
    if (!other) {
      return;
    }
    if (up) {
      group.insertBefore(form, other);
    } else {
      group.insertBefore(other, form);
    }
    renumber(group);
    button.focus();
  });
})();
