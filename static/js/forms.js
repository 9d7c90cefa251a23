// Form enhancements. Every form works without this file.
(function () {
  "use strict";

  // Move focus to the error summary so screen readers announce what to fix.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // Demo booking: follow the browser's time zone, and relabel times without a reload.
  var tzForm = document.getElementById("tz-form");
  if (!tzForm || !window.fetch) { return; }
  var tzSelect = document.getElementById("tz");
  var slotSelect = document.getElementById("slot");
  var hiddenZone = document.getElementById("time_zone");
  var slotsUrl = tzForm.getAttribute("data-slots-url");
  var button = tzForm.querySelector(".tz-submit");
  if (button) { button.hidden = true; }

  function ensureOption(zone) {
    for (var i = 0; i < tzSelect.options.length; i++) {
      if (tzSelect.options[i].value === zone) { return true; }
    }
    return false;
  }

  function relabel(zone) {
    fetch(slotsUrl + "?tz=" + encodeURIComponent(zone), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data) { return; }
      var chosen = slotSelect.value;
      var placeholder = slotSelect.options[0];
      slotSelect.textContent = "";
      slotSelect.appendChild(placeholder);
      data.groups.forEach(function (group) {
        var optgroup = document.createElement("optgroup");
        optgroup.label = group.label;
        group.options.forEach(function (pair) {
          var option = document.createElement("option");
          option.value = pair[0];
          option.textContent = pair[1];
          option.selected = pair[0] === chosen;
          optgroup.appendChild(option);
        });
        slotSelect.appendChild(optgroup);
      });
      if (!ensureOption(data.zone)) {
        // A zone the list did not have, with the server's localized label, never "Area/City".
        var option = document.createElement("option");
        option.value = data.zone;
        option.textContent = data.zone_label;
        tzSelect.appendChild(option);
      }
      hiddenZone.value = data.zone;
      tzSelect.value = data.zone;
    }).catch(function () { /* the plain form still works */ });
  }

  tzSelect.addEventListener("change", function () { relabel(tzSelect.value); });

  var params = new URLSearchParams(window.location.search);
  var detected = (Intl.DateTimeFormat().resolvedOptions() || {}).timeZone;
  if (!params.has("tz") && !summary && detected && detected !== tzSelect.value) {
    relabel(detected);
  }
}());
