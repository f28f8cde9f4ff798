/* The console's only script: small progressive enhancements. Every page works without it. */
(function () {
  "use strict";

  // Move focus to the error summary so that a screen reader announces what needs fixing.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }

  // A second click on "submit" while the first is on its way would send the form twice.
  function preventDoubleSubmit() {
    document.querySelectorAll("form[data-prevent-double-submit]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitting === "true") {
          event.preventDefault();
          return;
        }
        form.dataset.submitting = "true";
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.setAttribute("aria-disabled", "true");
        });
      });
    });
  }

  // Show the name of the administrative unit as its code is typed (the server shows it too).
  function unitLookup() {
    document.querySelectorAll("input[data-unit-lookup]").forEach(function (input) {
      var output = document.getElementById(input.dataset.unitLookup);
      var generationField = input.dataset.generationField ? document.getElementById(input.dataset.generationField) : null;
      if (!output) {
        return;
      }
      var template = output.dataset.template || "{name}";
      var timer = null;
      var latest = 0;
      function lookup() {
        var code = input.value.trim();
        var generation = generationField ? generationField.value : "2025";
        var ticket = ++latest;
        if (!/^\d{2}(\d{3})?$/.test(code)) {
          output.textContent = "";
          return;
        }
        fetch("/api/v1/units/" + encodeURIComponent(code) + "?generation=" + encodeURIComponent(generation), {
          headers: { "Accept": "application/json" },
          credentials: "same-origin"
        }).then(function (response) {
          return response.ok ? response.json() : null;
        }).then(function (unit) {
          if (ticket === latest) {
            output.textContent = unit ? template.replace("{name}", unit.name) : "";
          }
        }).catch(function () {
          output.textContent = "";
        });
      }
      function schedule() {
        window.clearTimeout(timer);
        timer = window.setTimeout(lookup, 200);
      }
      input.addEventListener("input", schedule);
      input.addEventListener("change", lookup);
      if (generationField) {
        generationField.addEventListener("change", lookup);
      }
    });
  }

  // Show only the fields of the option chosen ("registered abroad": the country, not the commune);
  // the server reads only those too, so without the script both are shown and nothing is lost.
  function dependentFields() {
    document.querySelectorAll("[data-shown-when]").forEach(function (block) {
      var condition = block.dataset.shownWhen.split("=");
      var radios = Array.prototype.slice.call(
        document.querySelectorAll("input[type=radio][name=\"" + condition[0] + "\"]")
      );
      function update() {
        var chosen = radios.filter(function (radio) { return radio.checked; })[0];
        block.hidden = Boolean(chosen) && chosen.value !== condition[1];
      }
      radios.forEach(function (radio) {
        radio.addEventListener("change", update);
      });
      update();
    });
  }

  // Coming back with the browser's history shows the page as it was left: let it be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-prevent-double-submit]").forEach(function (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.removeAttribute("aria-disabled");
      });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    preventDoubleSubmit();
    unitLookup();
    dependentFields();
  });
})();
