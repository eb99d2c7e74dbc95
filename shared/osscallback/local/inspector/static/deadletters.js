// osscallback inspector: the backstop's dead letters, with a Redeliver button each.
// Every value comes from an event (object keys are chosen by whoever uploads), so it is put in the page with
// textContent, never parsed as markup.
"use strict";

(function () {
  const POLL_MS = 2000;
  let busy = false;

  const { $, el } = window.OSSCB_DOM;  // dom.js

  async function api(path, options) {
    const resp = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
    const doc = await resp.json();
    if (!resp.ok) throw new Error((doc && doc.error ? doc.error + ": " : "") + (doc && doc.message || resp.status));
    return doc;
  }

  function render(letters) {
    const body = document.querySelector("#dead-letters tbody");
    const open = new Set();  // events the user opened stay open across polls
    body.querySelectorAll("tr.dead-letter details[open]").forEach(d => open.add(d.closest("tr").dataset.id));
    while (body.firstChild) body.removeChild(body.firstChild);
    $("dead-letters-empty").hidden = letters.length > 0;
    for (const d of letters) {
      const tr = el("tr", null, "dead-letter");
      tr.dataset.id = d.id;
      tr.appendChild(el("td", new Date(d.failed_at * 1000).toISOString(), "c-failed"));
      tr.appendChild(el("td", d.uploads.join(", "), "c-uploads"));
      tr.appendChild(el("td", d.attempts, "c-attempts"));
      tr.appendChild(el("td", d.reason, "c-reason"));
      const event = el("td", null, "c-event");
      const details = el("details");
      details.open = open.has(d.id);
      details.appendChild(el("summary", "event"));
      details.appendChild(el("pre", d.event));
      event.appendChild(details);
      tr.appendChild(event);
      const cell = el("td", null, "c-redeliver");
      const button = el("button", "Redeliver", "redeliver");
      button.type = "button";
      button.addEventListener("click", () => redeliver(d.id, button));
      cell.appendChild(button);
      tr.appendChild(cell);
      body.appendChild(tr);
    }
  }

  async function redeliver(id, button) {
    button.disabled = true;
    busy = true;
    const result = $("dead-letters-result");
    try {
      const r = await api("/api/dead-letters/" + encodeURIComponent(id) + "/redeliver", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      const ran = r.records.filter(x => x.outcome === "ran").length;
      const dup = r.records.filter(x => x.outcome === "duplicate").length;
      result.textContent = r.outcome === "delivered"
        ? "redelivered " + r.uploads.join(", ") + ": action ran " + ran + ", already delivered " + dup
        : r.outcome + " " + r.uploads.join(", ") + ": " + (r.detail || r.reason);
      result.className = "verdict " + (r.ok ? "verified" : "failed");
    } catch (err) {
      result.textContent = "redeliver failed: " + err.message;
      result.className = "verdict failed";
    } finally {
      busy = false;
      await poll();
    }
  }

  async function poll() {
    if (busy) return;
    try {
      render((await api("/api/dead-letters")).dead_letters);
    } catch (err) {
      // the callbacks' status line already says when the stack cannot be reached
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    poll();
    setInterval(poll, POLL_MS);
  });
})();
