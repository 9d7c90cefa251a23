// Form enhancements. Every form works without this file.
(function () {
  "use strict";

  // Move focus to the error summary so screen readers announce what to fix.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // The demo's time picker and time zone: see slotpicker.js.
}());
