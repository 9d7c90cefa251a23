// Live seat estimator. The page works without this file: the form is a plain GET
// that the server answers with the same figures. With it, the figures follow the
// input as the visitor types, formatted by the server so both paths agree.
(function () {
  "use strict";
  var form = document.querySelector(".estimator-form");
  if (!form || !window.fetch) { return; }
  var input = form.querySelector("#users");
  var result = document.getElementById("estimate-result");
  var cta = document.getElementById("demo-cta");
  var endpoint = form.getAttribute("data-estimate-url");
  var timer = null;
  var latest = 0;

  function clearError() {
    var field = input.closest(".field");
    var error = document.getElementById("users-error");
    if (error) { error.remove(); }
    field.classList.remove("field-invalid");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "users-hint");
  }

  function update() {
    var value = input.value.trim();
    var ticket = ++latest;
    if (!/^[0-9]{1,5}$/.test(value)) {
      result.hidden = true;
      return;
    }
    fetch(endpoint + "?users=" + encodeURIComponent(value), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (ticket !== latest) { return; }
      if (!data) { result.hidden = true; return; }
      clearError();
      ["summary", "per_month", "per_term"].forEach(function (key) {
        result.querySelector('[data-field="' + key + '"]').textContent = data[key];
      });
      result.hidden = false;
      if (cta && data.demo_url) { cta.setAttribute("href", data.demo_url); }
    }).catch(function () { /* the submit button still works */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 150);
  });
}());
