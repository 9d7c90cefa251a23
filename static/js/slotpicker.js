// The demo time picker with JavaScript: a month grid (WAI-ARIA date picker pattern)
// over the same free times the page lists as radio buttons per day, and the chosen
// day's times as buttons. Without this file the radio buttons work on their own.
(function () {
  "use strict";

  var picker = document.getElementById("slot-picker");
  if (!picker || !window.fetch || !window.Intl) { return; }
  var form = picker.closest("form");
  var lang = document.documentElement.lang || "en";
  var slotsUrl = picker.getAttribute("data-slots-url");
  var zone = picker.getAttribute("data-zone");
  var text = JSON.parse(picker.getAttribute("data-text"));
  var hiddenZone = document.getElementById("time_zone");
  var tzSelect = document.getElementById("tz");
  var tzForm = document.getElementById("tz-form");
  var days = {};       // ISO date -> {label, times: [[value, label]]}
  var dayOrder = [];
  var chosen = null;   // slot value
  var shownMonth = null; // first day of the month shown, "YYYY-MM-01"
  var focusDay = null;

  var checked = picker.querySelector('input[type="radio"]:checked');
  var kept = picker.querySelector('input[name="kept_slot"]');
  chosen = checked ? checked.value : (kept ? kept.value : null);

  // The calendar replaces the radio buttons and the week buttons; what it chooses is
  // sent as one hidden "slot" field (a field sent twice is refused by the server).
  var hidden = document.createElement("input");
  hidden.type = "hidden";
  hidden.name = "slot";
  hidden.value = chosen || "";
  var calendar = document.createElement("div");
  calendar.className = "slot-calendar";
  var live = document.createElement("p");
  live.className = "slot-chosen";
  live.setAttribute("aria-live", "polite");
  live.id = "slot-chosen-live";

  function iso(date) { return date.toISOString().slice(0, 10); }
  function parse(value) { return new Date(value + "T00:00:00Z"); }
  function addDays(value, n) { var d = parse(value); d.setUTCDate(d.getUTCDate() + n); return iso(d); }
  function monthOf(value) { return value.slice(0, 8) + "01"; }
  function addMonths(value, n) {
    var d = parse(monthOf(value)); d.setUTCMonth(d.getUTCMonth() + n); return iso(d);
  }
  // The same day of another month, or that month's last day when it is shorter.
  function shiftMonths(value, n) {
    var target = parse(addMonths(value, n));
    var day = Number(value.slice(8, 10));
    var length = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
    target.setUTCDate(Math.min(day, length));
    return iso(target);
  }
  function fmt(options, value) {
    return new Intl.DateTimeFormat(lang, Object.assign({ timeZone: "UTC" }, options)).format(parse(value));
  }
  // The language's first day of the week: Monday everywhere this site is written for,
  // Sunday where the browser's locale data says so.
  var firstDay = 1;
  try {
    var info = new Intl.Locale(lang).weekInfo || new Intl.Locale(lang).getWeekInfo();
    if (info && info.firstDay) { firstDay = info.firstDay % 7; }
  } catch (e) { /* Monday */ }

  function enhance() {
    picker.querySelectorAll('.slot-week-nav, .slot-days, p.slot-chosen').forEach(function (el) {
      el.hidden = true;
    });
    picker.querySelectorAll('input[type="radio"], input[name="kept_slot"], button[name="week"]').forEach(function (el) {
      el.disabled = true;
      if (el.id === "slot") { el.removeAttribute("id"); }
    });
    picker.appendChild(calendar);
    picker.appendChild(live);
    picker.appendChild(hidden);
    picker.classList.add("slot-picker-enhanced");
  }

  function load(data) {
    days = {};
    dayOrder = [];
    data.groups.forEach(function (group) {
      days[group.date] = { label: group.label, times: group.options };
      dayOrder.push(group.date);
    });
    var zoneText = document.getElementById("slot-zone");
    if (zoneText && data.zone_heading) { zoneText.textContent = data.zone_heading; }
    var chosenDay = null;
    dayOrder.forEach(function (day) {
      days[day].times.forEach(function (pair) { if (pair[0] === chosen) { chosenDay = day; } });
    });
    if (!chosenDay) { chosen = null; hidden.value = ""; }
    focusDay = chosenDay || dayOrder[0] || null;
    shownMonth = focusDay ? monthOf(focusDay) : null;
    render(false);
    announce();
  }

  function button(label, className, handler) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  function render(moveFocus) {
    calendar.textContent = "";
    if (!shownMonth) { return; }
    var first = dayOrder[0], last = dayOrder[dayOrder.length - 1];
    var header = document.createElement("div");
    header.className = "slot-calendar-header";
    var title = document.createElement("h3");
    title.id = "slot-month";
    title.setAttribute("aria-live", "polite");
    title.textContent = fmt({ month: "long", year: "numeric" }, shownMonth);
    var prev = button(text.previous_month, "button button-secondary slot-month-prev", function () { turn(-1, ".slot-month-prev"); });
    var next = button(text.next_month, "button button-secondary slot-month-next", function () { turn(1, ".slot-month-next"); });
    prev.disabled = monthOf(first) >= shownMonth;
    next.disabled = monthOf(last) <= shownMonth;
    header.appendChild(prev);
    header.appendChild(title);
    header.appendChild(next);
    calendar.appendChild(header);

    var table = document.createElement("table");
    table.setAttribute("role", "grid");
    table.setAttribute("aria-labelledby", "slot-month");
    table.className = "slot-grid";
    var thead = document.createElement("thead");
    var row = document.createElement("tr");
    var start = shownMonth;
    while (parse(start).getUTCDay() !== firstDay) { start = addDays(start, -1); }
    for (var i = 0; i < 7; i++) {
      var th = document.createElement("th");
      th.scope = "col";
      var d = addDays(start, i);
      th.setAttribute("abbr", fmt({ weekday: "long" }, d));
      th.textContent = fmt({ weekday: "short" }, d);
      row.appendChild(th);
    }
    thead.appendChild(row);
    table.appendChild(thead);
    var tbody = document.createElement("tbody");
    var day = start;
    var nextMonth = addMonths(shownMonth, 1);
    if (!focusDay || monthOf(focusDay) !== shownMonth) {
      focusDay = dayOrder.filter(function (x) { return monthOf(x) === shownMonth; })[0] || shownMonth;
    }
    while (day < nextMonth) {
      row = document.createElement("tr");
      for (var j = 0; j < 7; j++) {
        var cell = document.createElement("td");
        if (monthOf(day) === shownMonth) {
          var free = !!days[day];
          var b = document.createElement("button");
          b.type = "button";
          b.className = "slot-day-button";
          b.setAttribute("data-date", day);
          // Seen: the day's number; heard: the whole date, as the page writes it.
          var number = document.createElement("span");
          number.setAttribute("aria-hidden", "true");
          number.textContent = String(parse(day).getUTCDate());
          var spoken = document.createElement("span");
          spoken.className = "visually-hidden";
          spoken.textContent = free ? days[day].label : fmt({ weekday: "long", day: "numeric", month: "long", year: "numeric" }, day);
          b.appendChild(number);
          b.appendChild(spoken);
          b.tabIndex = day === focusDay ? 0 : -1;
          // The error summary's link to the field ("#slot") lands on the grid's tab stop.
          if (day === focusDay) { b.id = "slot"; }
          if (!free) { b.setAttribute("aria-disabled", "true"); }
          var selected = chosen && free && days[day].times.some(function (p) { return p[0] === chosen; });
          cell.setAttribute("aria-selected", selected ? "true" : "false");
          if (selected) { b.classList.add("slot-day-chosen"); }
          b.addEventListener("click", onDayClick);
          b.addEventListener("keydown", onKey);
          cell.appendChild(b);
        }
        row.appendChild(cell);
        day = addDays(day, 1);
      }
      tbody.appendChild(row);
    }
    table.appendChild(tbody);
    calendar.appendChild(table);
    calendar.appendChild(timesOf(focusDay));
    if (moveFocus) {
      var target = calendar.querySelector('[data-date="' + focusDay + '"]');
      if (target) { target.focus(); }
    }
  }

  function timesOf(day) {
    var box = document.createElement("div");
    box.className = "slot-times-panel";
    box.setAttribute("role", "group");
    var heading = document.createElement("h4");
    heading.id = "slot-times-heading";
    box.setAttribute("aria-labelledby", "slot-times-heading");
    if (!days[day]) {
      heading.textContent = text.no_times;
      box.appendChild(heading);
      return box;
    }
    heading.textContent = text.times_on.replace("%(date)s", days[day].label);
    box.appendChild(heading);
    var list = document.createElement("ul");
    list.className = "slot-time-buttons";
    days[day].times.forEach(function (pair) {
      var li = document.createElement("li");
      var b = button(pair[1], "button slot-time-button", function () { choose(day, pair); });
      b.setAttribute("aria-pressed", pair[0] === chosen ? "true" : "false");
      b.setAttribute("data-slot", pair[0]);
      li.appendChild(b);
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function choose(day, pair) {
    chosen = pair[0];
    hidden.value = chosen;
    focusDay = day;
    render(false);
    var pressed = calendar.querySelector('[data-slot="' + chosen + '"]');
    if (pressed) { pressed.focus(); }
    announce();
  }

  function announce() {
    live.textContent = "";
    dayOrder.forEach(function (day) {
      days[day].times.forEach(function (pair) {
        if (pair[0] === chosen) { live.textContent = text.chosen.replace("%(when)s", days[day].label + ", " + pair[1]); }
      });
    });
  }

  function go(day, moveFocus) {
    var first = dayOrder[0], last = dayOrder[dayOrder.length - 1];
    if (monthOf(day) < monthOf(first) || monthOf(day) > monthOf(last)) { return; }
    if (monthOf(day) !== monthOf(focusDay || day) || !calendar.querySelector('[data-date="' + day + '"]')) {
      shownMonth = monthOf(day);
    }
    focusDay = day;
    render(moveFocus);
  }

  // The month buttons: another month, with its first free day ready in the grid and
  // the focus left on the button (or on the other one, where this one ends).
  function turn(step, selector) {
    shownMonth = addMonths(shownMonth, step);
    focusDay = null;
    render(false);
    var again = calendar.querySelector(selector);
    if (again && again.disabled) { again = calendar.querySelector(selector === ".slot-month-prev" ? ".slot-month-next" : ".slot-month-prev"); }
    if (again) { again.focus(); }
  }

  function onDayClick(event) {
    var day = event.currentTarget.getAttribute("data-date");
    focusDay = day;
    render(false);
    var firstTime = calendar.querySelector(".slot-time-button");
    if (days[day] && firstTime) {
      firstTime.focus();
    } else {
      var again = calendar.querySelector('[data-date="' + day + '"]');
      if (again) { again.focus(); }
    }
  }

  function onKey(event) {
    var day = event.currentTarget.getAttribute("data-date");
    var weekday = (parse(day).getUTCDay() - firstDay + 7) % 7;
    var target = null;
    switch (event.key) {
      case "ArrowLeft": target = addDays(day, -1); break;
      case "ArrowRight": target = addDays(day, 1); break;
      case "ArrowUp": target = addDays(day, -7); break;
      case "ArrowDown": target = addDays(day, 7); break;
      case "Home": target = addDays(day, -weekday); break;
      case "End": target = addDays(day, 6 - weekday); break;
      case "PageUp": target = shiftMonths(day, -1); break;
      case "PageDown": target = shiftMonths(day, 1); break;
      default: return;
    }
    event.preventDefault();
    go(target, true);
  }

  function fetchFor(zoneName, then) {
    return fetch(slotsUrl + "?tz=" + encodeURIComponent(zoneName), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data) { then(data); }
    }).catch(function () { /* the radio buttons stay */ });
  }

  function adoptZone(data) {
    if (tzSelect) {
      var known = Array.prototype.some.call(tzSelect.options, function (o) { return o.value === data.zone; });
      if (!known) {
        // A zone the list did not have, with the server's localized label, never "Area/City".
        var option = document.createElement("option");
        option.value = data.zone;
        option.textContent = data.zone_label;
        tzSelect.appendChild(option);
      }
      tzSelect.value = data.zone;
    }
    if (hiddenZone) { hiddenZone.value = data.zone; }
    zone = data.zone;
  }

  fetchFor(zone, function (data) {
    enhance();
    load(data);
    if (tzSelect && tzForm) {
      var submit = tzForm.querySelector(".tz-submit");
      if (submit) { submit.hidden = true; }
      tzSelect.addEventListener("change", function () {
        fetchFor(tzSelect.value, function (fresh) { adoptZone(fresh); load(fresh); });
      });
      var params = new URLSearchParams(window.location.search);
      var detected = (Intl.DateTimeFormat().resolvedOptions() || {}).timeZone;
      if (!params.has("tz") && !document.getElementById("error-summary") && detected && detected !== tzSelect.value) {
        fetchFor(detected, function (fresh) { adoptZone(fresh); load(fresh); });
      }
    }
  });
  if (form) { form.noValidate = true; }
}());
