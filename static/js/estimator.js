// Live seat estimator. The page works without this file: the form is a plain GET
// that the server answers with the same figures, messages and "talk to us" offer.
// With it, the server's answer follows the input as the visitor types (checked and
// worded by the server, so both paths agree), and the Calculate button goes away.
(function () {
  "use strict";
  var form = document.querySelector(".estimator-form");
  if (!form || !window.fetch) { return; }
  var input = form.querySelector("#users");
  var field = input.closest(".field");
  var status = document.getElementById("users-status");
  var result = document.getElementById("estimate-result");
  var talk = document.getElementById("talk-to-us");
  var cta = document.getElementById("demo-cta");
  var endpoint = form.getAttribute("data-estimate-url");
  var submit = form.querySelector(".estimator-submit");
  var timer = null;
  var latest = 0;

  if (submit) { submit.hidden = true; }

  function showError(message) {
    var error = document.getElementById("users-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "error";
      error.id = "users-error";
      status.appendChild(error);
    }
    error.textContent = message;
    field.classList.add("field-invalid");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "users-hint users-error");
  }

  function clearError() {
    var error = document.getElementById("users-error");
    if (error) { error.remove(); }
    field.classList.remove("field-invalid");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "users-hint");
  }

  function show(data) {
    if (data.state === "invalid") {
      result.hidden = true;
      talk.hidden = true;
      showError(data.message);
      return;
    }
    clearError();
    if (data.state === "talk") {
      result.hidden = true;
      talk.querySelector('[data-field="talk"]').textContent = data.message;
      talk.hidden = false;
    } else {
      ["summary", "per_month", "per_term"].forEach(function (key) {
        result.querySelector('[data-field="' + key + '"]').textContent = data[key];
      });
      talk.hidden = true;
      result.hidden = false;
    }
    if (cta && data.demo_url) { cta.setAttribute("href", data.demo_url); }
  }

  function update() {
    var ticket = ++latest;
    fetch(endpoint + "?users=" + encodeURIComponent(input.value.slice(0, 100)), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      if (ticket === latest && data && data.state) { show(data); }
    }).catch(function () { /* pressing Enter still sends the form */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 150);
  });
}());
