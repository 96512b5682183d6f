// leadstream board: live updates over server-sent events. Every page is complete without this
// script (the server renders every number); it only keeps the overview current without reloads
// and tells a lead page when its lead moves.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("live-status");
  if (!window.EventSource || !status) { return; }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;  // markup rendered and escaped by the server
    return template.content;
  }
  function setStatus(state, text) { body.setAttribute("data-live", state); status.textContent = text; }
  function watch(url, handlers, onOpen) {
    var source = new EventSource(url);
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) { handlers[name](event.data, source); });
    });
    source.onerror = function () {
      setStatus("reconnecting", "Live updates: reconnecting…");
      // The browser retries a dropped stream itself, but gives up on an error answer (503: the
      // worker serves its most streams already): try again after its Retry-After.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(function () { watch(url, handlers, onOpen); }, 5000);
      }
    };
    return source;
  }

  var heading = document.querySelector("h1[data-lead]");
  if (heading) {
    // A lead page: say so when this lead moves (or is erased) while the page is open.
    var notice = document.getElementById("lead-moved");
    watch("/board/events?lead=" + encodeURIComponent(heading.getAttribute("data-lead")), {
      "following": function () { setStatus("connected", "Live updates: on"); },
      "lead-moved": function (data) {
        notice.replaceChildren(fragment(JSON.parse(data).notice));
        notice.hidden = false;
      },
      "lead-erased": function (data, source) {
        notice.textContent = "This lead has been erased.";
        notice.hidden = false;
        source.close();
      }
    });
    return;
  }

  var rows = document.getElementById("hot-rows");
  var empty = document.getElementById("hot-empty");
  var funnel = document.getElementById("funnel");
  var announcer = document.getElementById("announcer");
  if (!rows) { return; }
  function rowFor(leadId) {
    for (var i = 0; i < rows.rows.length; i++) {
      if (rows.rows[i].getAttribute("data-lead") === leadId) { return rows.rows[i]; }
    }
    return null;
  }
  function refreshEmpty() { empty.hidden = rows.rows.length > 0; }

  watch("/board/events", {
    "hot": function (data) {
      rows.replaceChildren(fragment(data));
      refreshEmpty();
      setStatus("connected", "Live updates: on");
    },
    "funnel": function (data) { funnel.replaceChildren(fragment(data)); },
    "hot-add": function (data) {
      var lead = JSON.parse(data);
      var old = rowFor(lead.lead_id);
      if (old) { old.remove(); }
      rows.prepend(fragment(lead.row));
      refreshEmpty();
      announcer.textContent = lead.announce;
    },
    "hot-update": function (data) {
      var lead = JSON.parse(data);
      var old = rowFor(lead.lead_id);
      if (old) { old.replaceWith(fragment(lead.row)); }
    },
    "hot-remove": function (data) {
      var old = rowFor(JSON.parse(data).lead_id);
      if (old) { old.remove(); refreshEmpty(); }
    }
  });
})();
