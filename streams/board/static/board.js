// leadstream board: live updates over server-sent events. The page is complete without this
// script (the server renders every number); this only keeps it current without reloads.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("live-status");
  var announcer = document.getElementById("announcer");
  var rows = document.getElementById("hot-rows");
  var empty = document.getElementById("hot-empty");
  var funnel = document.getElementById("funnel");
  if (!window.EventSource || !rows) { return; }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;  // markup rendered and escaped by the server
    return template.content;
  }
  function rowFor(leadId) {
    for (var i = 0; i < rows.rows.length; i++) {
      if (rows.rows[i].getAttribute("data-lead") === leadId) { return rows.rows[i]; }
    }
    return null;
  }
  function refreshEmpty() { empty.hidden = rows.rows.length > 0; }
  function setStatus(state, text) { body.setAttribute("data-live", state); status.textContent = text; }

  var source = new EventSource("/board/events");
  source.addEventListener("hot", function (event) {
    rows.replaceChildren(fragment(event.data));
    refreshEmpty();
    setStatus("connected", "Live updates: on");
  });
  source.addEventListener("funnel", function (event) {
    funnel.replaceChildren(fragment(event.data));
  });
  source.addEventListener("hot-add", function (event) {
    var data = JSON.parse(event.data);
    var old = rowFor(data.lead_id);
    if (old) { old.remove(); }
    rows.prepend(fragment(data.row));
    refreshEmpty();
    announcer.textContent = data.announce;
  });
  source.addEventListener("hot-update", function (event) {
    var data = JSON.parse(event.data);
    var old = rowFor(data.lead_id);
    if (old) { old.replaceWith(fragment(data.row)); }
  });
  source.addEventListener("hot-remove", function (event) {
    var data = JSON.parse(event.data);
    var old = rowFor(data.lead_id);
    if (old) { old.remove(); refreshEmpty(); }
  });
  source.onerror = function () {
    setStatus("reconnecting", "Live updates: reconnecting…");
  };
})();
