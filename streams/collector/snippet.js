/* leadstream snippet: page views and form submits to the collector that served this file.
 * <script async src="https://t.example.com/s.js" data-write-key="..."></script>
 * Honours Do-Not-Track, Global Privacy Control and window.leadstreamConsent === false. With
 * data-consent="opt-in" on the tag it sends nothing, and sets no cookie, until window.leadstreamConsent === true.
 * window.leadstreamConsent === true is sent as context.consent = true: the yes LEADSTREAM_CONSENT=opt-in needs.
 * window.leadstream.track(name, properties), .identify(userId, traits), .page() for single-page apps.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.leadstream) return;
  var base = script.src.replace(/\/s\.js(?:[?#].*)?$/, "");
  var writeKey = script.getAttribute("data-write-key") || "";
  var optIn = script.getAttribute("data-consent") === "opt-in";
  var COOKIE = "ls_aid";
  function refused() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true ||
      window.leadstreamConsent === false || (optIn && window.leadstreamConsent !== true);
  }
  function newId() {
    return window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function visitor() {
    var found = document.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([A-Za-z0-9_-]{8,64})"));
    if (found) return found[1];
    var id = newId();
    document.cookie = COOKIE + "=" + id + "; path=/; max-age=31536000; samesite=lax" + (location.protocol === "https:" ? "; secure" : "");
    return id;
  }
  function send(type, message, traits) {
    if (refused()) return;
    message.anonymousId = visitor();
    message.messageId = newId();
    message.timestamp = new Date().toISOString();
    message.context = {
      userAgent: navigator.userAgent,
      page: {url: location.href, path: location.pathname, referrer: document.referrer, title: document.title},
      library: {name: "leadstream-snippet", version: "1"}
    };
    if (traits) message.context.traits = traits;
    if (window.leadstreamConsent === true) message.context.consent = true;
    if (writeKey) message.writeKey = writeKey;
    var body = JSON.stringify(message), url = base + "/v1/" + type;
    /* text/plain keeps it a simple request: no CORS preflight, and it survives the page unloading. */
    if (!(navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], {type: "text/plain"})))) {
      fetch(url, {method: "POST", body: body, keepalive: true, headers: {"Content-Type": "text/plain"}});
    }
  }
  var SKIP = /password|passwd|card|cvv|cvc|iban|ssn/i;
  /* The person fields a form may set (forms.FORM_PERSON_FIELDS): sent as the visitor's traits, since an
   * event's own properties never say who the person is. */
  var PERSON = ["email", "name", "company", "company_name", "title", "job_title", "jobtitle", "industry",
                "employees", "company_size", "country", "country_code"];
  function person(properties) {
    var traits = null;
    for (var name in properties) {
      if (PERSON.indexOf(name.toLowerCase()) >= 0) (traits = traits || {})[name] = properties[name];
    }
    return traits;
  }
  function fields(form) {
    var properties = {};
    for (var i = 0; i < form.elements.length; i++) {
      var field = form.elements[i];
      if (!field.name || field.name.charAt(0) === "_" || SKIP.test(field.name) || SKIP.test(field.type)) continue;
      if (field.type === "file" || field.type === "submit" || field.type === "button") continue;
      if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
      properties[field.name] = String(field.value).slice(0, 2048);
    }
    return properties;
  }
  window.leadstream = {
    page: function () {
      send("page", {properties: {path: location.pathname, url: location.href, title: document.title, referrer: document.referrer}});
    },
    track: function (event, properties) { send("track", {event: event, properties: properties || {}}); },
    identify: function (userId, traits) { send("identify", {userId: userId, traits: traits || {}}); }
  };
  document.addEventListener("submit", function (submitted) {
    var form = submitted.target;
    if (!form || !form.elements || form.hasAttribute("data-leadstream-ignore")) return;
    var properties = fields(form);
    send("track", {event: form.getAttribute("data-leadstream-event") || "Form Submitted", properties: properties},
         person(properties));
  }, true);
  window.leadstream.page();
})();
