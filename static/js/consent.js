// Cookie consent. Nothing that tracks is loaded unless the server says the visitor
// agreed (data-consent on <body>, from their consent cookie); the page's CSP only
// admits the tag hosts in that case. Without this file the banner's buttons are
// plain forms that post to the server.
(function () {
  "use strict";
  var body = document.body;
  var granted = (body.getAttribute("data-consent") || "").split(" ").filter(Boolean);
  var gaId = body.getAttribute("data-ga-id");
  var hubspotId = body.getAttribute("data-hubspot-id");

  function addScript(src, id) {
    var script = document.createElement("script");
    script.src = src;
    script.async = true;
    if (id) { script.id = id; }
    document.head.appendChild(script);
  }

  // Google Consent Mode v2: everything denied before any tag can read it.
  if (gaId) {
    window.dataLayer = window.dataLayer || [];
    window.gtag = function () { window.dataLayer.push(arguments); };
    window.gtag("consent", "default", {
      ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied",
      analytics_storage: "denied", functionality_storage: "denied", personalization_storage: "denied",
      security_storage: "granted"
    });
    if (granted.indexOf("analytics") !== -1) {
      window.gtag("consent", "update", { analytics_storage: "granted" });
      window.gtag("js", new Date());
      window.gtag("config", gaId, { anonymize_ip: true });
      addScript("https://www.googletagmanager.com/gtag/js?id=" + encodeURIComponent(gaId));
    }
  }
  if (hubspotId && granted.indexOf("marketing") !== -1) {
    addScript("https://js.hs-scripts.com/" + encodeURIComponent(hubspotId) + ".js", "hs-script-loader");
  }

  // Which cookies each category's tags set (from the server's one configuration): names,
  // and documented prefixes ending in "*".
  function patternsOf(key) {
    return (body.getAttribute("data-cookies-" + key) || "").split(" ").filter(Boolean);
  }

  function matches(name, patterns) {
    return patterns.some(function (pattern) {
      return pattern.charAt(pattern.length - 1) === "*"
        ? name.indexOf(pattern.slice(0, -1)) === 0 : name === pattern;
    });
  }

  // A tag may have set its cookie on this host, on the site's cookie domain or on a parent
  // of this host: expire it on each (the browser ignores what does not apply).
  function deleteCookie(name) {
    var expired = "=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
    var parts = window.location.hostname.split(".");
    var cookieDomain = body.getAttribute("data-cookie-domain");
    document.cookie = name + expired;
    if (cookieDomain) { document.cookie = name + expired + "; domain=" + cookieDomain; }
    for (var i = 0; i < parts.length - 1; i++) {
      document.cookie = name + expired + "; domain=." + parts.slice(i).join(".");
    }
  }

  function deleteTrackingCookies(keys) {
    var patterns = [];
    keys.forEach(function (key) { patterns = patterns.concat(patternsOf(key)); });
    document.cookie.split(";").forEach(function (pair) {
      var name = pair.split("=")[0].trim();
      if (name && matches(name, patterns)) { deleteCookie(name); }
    });
  }

  var banner = document.getElementById("consent-banner");
  if (!banner || !window.fetch) { return; }
  var form = banner.querySelector("[data-consent-form]");
  var choices = document.getElementById("consent-choices");
  var choose = document.getElementById("consent-choose");

  function openChoices() {
    choices.hidden = false;
    choose.setAttribute("aria-expanded", "true");
    choices.querySelector("input").focus();
  }

  choose.addEventListener("click", function (event) {
    event.preventDefault();
    if (choices.hidden) { openChoices(); } else {
      choices.hidden = true;
      choose.setAttribute("aria-expanded", "false");
    }
  });

  var settingsLink = document.getElementById("cookie-settings-link");
  if (settingsLink) {
    settingsLink.addEventListener("click", function (event) {
      event.preventDefault();
      banner.hidden = false;
      openChoices();
      banner.scrollIntoView();
    });
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button) { return; }
    event.preventDefault();
    var data = new URLSearchParams(new FormData(form));
    data.set("action", button.value);
    // getAttribute: the buttons named "action" shadow the form's .action property.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (result) {
      var withdrawn = granted.filter(function (key) { return result.granted.indexOf(key) === -1; });
      if (withdrawn.length) { deleteTrackingCookies(withdrawn); }
      if (result.reload) {
        window.location.reload();  // the new CSP and tags come with the page
        return;
      }
      banner.hidden = true;
      document.getElementById("main").focus();
    }).catch(function () {
      // Fall back to the plain form post, which the server answers with a redirect.
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "action";
      field.value = button.value;
      form.appendChild(field);
      form.submit();
    });
  });
}());
