// osscallback inspector: polls the JSON API and builds the page with DOM calls only.
// Every value shown comes from a request (object keys, bodies, headers are chosen by whoever uploads), so it is
// put in the page with textContent, never parsed as markup: a key like "<script>" shows as text.
"use strict";

(function () {
  const POLL_MS = 1000;
  const COLUMNS = ["number", "time", "operation", "bucket", "object", "url", "verification", "status", "latency",
    "uploader", "replays"];
  // Columns shown on one line, cut with an ellipsis by the stylesheet (td.cut); the whole value is the cell's
  // tooltip (title) and stays its text, and the details view shows it in full.
  const ONE_LINE = new Set(["url"]);
  let version = null;
  let selected = null;   // id of the callback shown in the details view
  let eventsVersion = null;

  const { $, el } = window.OSSCB_DOM;  // dom.js

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function time(epoch) {
    const d = new Date(epoch * 1000);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  async function api(path, options) {
    const resp = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
    const doc = await resp.json();
    if (!resp.ok) throw new Error((doc && doc.error ? doc.error + ": " : "") + (doc && doc.message || resp.status));
    return doc;
  }

  function uploaderText(row) {
    if (!row.uploader) return row.kind === "replay" ? "— (replay)" : "— (re-send)";
    return row.uploader.status === 200 ? "200" : "203 CallbackFailed: " + row.uploader.message;
  }

  function kindText(row) {
    if (row.kind === "upload") return row.operation;
    const what = row.kind === "replay" ? "replay" : (row.signing === "kept" ? "re-send, old signature" : "re-send, re-signed");
    return what + " of #" + (row.parent_number === null ? "?" : row.parent_number);
  }

  // Rows are kept and updated in place (keyed by id), so a poll never replaces what the user is pointing at.
  function renderList(rows) {
    const body = document.querySelector("#callbacks tbody");
    const existing = new Map();
    body.querySelectorAll("tr.row").forEach(tr => existing.set(tr.dataset.id, tr));
    $("empty").hidden = rows.length > 0;
    const keep = new Set();
    for (const row of rows) {
      let tr = existing.get(row.id);
      if (!tr) {
        tr = el("tr");
        tr.dataset.id = row.id;
        for (const name of COLUMNS) tr.appendChild(el("td", "", "c-" + name + (ONE_LINE.has(name) ? " cut" : "")));
        tr.addEventListener("click", () => select(row.id));
      }
      tr.className = "row " + row.verification.outcome + (row.id === selected ? " selected" : "");
      const texts = {
        number: "#" + row.number,
        time: time(row.sent_at),
        operation: kindText(row),
        bucket: row.bucket,
        object: row.object,
        url: row.callback_url,
        verification: row.verification.summary,
        status: row.status === null ? "—" : row.status,
        latency: row.latency_ms.toFixed(1) + " ms",
        uploader: uploaderText(row),
        replays: row.replays + (row.resends ? " (+" + row.resends + " re-sent)" : ""),
      };
      COLUMNS.forEach((name, i) => {
        const text = String(texts[name]);
        if (tr.cells[i].textContent !== text) tr.cells[i].textContent = text;
        if (ONE_LINE.has(name)) tr.cells[i].title = text;
      });
      body.appendChild(tr);  // moves an existing row into newest-first order
      keep.add(row.id);
    }
    existing.forEach((tr, id) => { if (!keep.has(id)) tr.remove(); });
  }

  function renderEvents(events) {
    const body = document.querySelector("#events tbody");
    clear(body);
    $("events-empty").hidden = events.length > 0;
    for (const ev of events) {
      const tr = el("tr", null, "event " + ev.outcome);
      tr.dataset.requestId = ev.request_id;
      const cells = [
        ["number", "#" + ev.number],
        ["time", time(ev.time)],
        ["event", ev.event_name + (ev.records > 1 ? " (+" + (ev.records - 1) + " more)" : "")],
        ["function", ev.function + " (trigger " + ev.trigger + ")"],
        ["bucket", ev.bucket],
        ["object", ev.object],
        ["outcome", ev.outcome + (ev.error ? " — " + ev.error : "")],
        ["attempts", ev.attempts + " of " + ev.max_attempts],
      ];
      for (const [name, text] of cells) tr.appendChild(el("td", text, "c-" + name));
      body.appendChild(tr);
    }
  }

  function pre(text) { return el("pre", text); }

  function fact(dl, name, value) {
    dl.appendChild(el("dt", name));
    dl.appendChild(el("dd", value));
  }

  function bodyText(body) {
    if (!body) return "";
    return body.base64 ? body.text + "\n\n(not UTF-8; base64: " + body.base64 + ")" : body.text;
  }

  function renderTry(container, t, index, total) {
    const box = el("div", null, "try");
    box.appendChild(el("h3", "Request " + (total > 1 ? (index + 1) + " of " + total + " " : "") + "as sent to " + t.url));
    if (t.request) {
      box.appendChild(pre(t.request.head + bodyText(t.request.body)));
      box.appendChild(el("h4", "String that was signed (unquote(path)[?query] \\n body)"));
      box.appendChild(pre(bodyText(t.request.signed)));
      if (t.request.own_string_to_sign) {
        box.appendChild(el("h4", "String this request would need signed"));
        box.appendChild(pre(bodyText(t.request.own_string_to_sign)));
      }
      if (t.request.signature_matches !== null) {
        box.appendChild(el("p", "Signature matches this request: " + (t.request.signature_matches ? "yes" : "no"),
          t.request.signature_matches ? "good" : "bad"));
      }
    }
    box.appendChild(el("h3", "Answer" + (t.latency_ms !== undefined ? " (" + t.latency_ms.toFixed(1) + " ms)" : "")));
    if (t.answer) {
      const head = "HTTP/1.1 " + t.answer.status + " " + t.answer.reason + "\n" +
        t.answer.headers.map(h => h[0] + ": " + h[1]).join("\n") + "\n\n";
      box.appendChild(pre(head + bodyText(t.answer.body) + (t.answer.truncated ? "\n… (truncated)" : "")));
    } else {
      box.appendChild(el("p", "no answer"));
    }
    if (!t.ok) box.appendChild(el("p", "OSS: " + t.message, "bad"));
    container.appendChild(box);
  }

  function renderDetails(d) {
    $("details").hidden = false;
    $("d-title").textContent = "#" + d.number + " " + kindText(d) + " — " + d.bucket + "/" + d.object;
    const verdict = $("d-verdict");
    verdict.textContent = d.verification.summary +
      (d.verification.passed.length ? " (passed: " + d.verification.passed.join(", ") + ")" : "");
    verdict.className = "verdict " + d.verification.outcome;
    const facts = $("d-facts");
    clear(facts);
    fact(facts, "sent", new Date(d.sent_at * 1000).toISOString());
    fact(facts, "upload request id", d.upload_request_id);
    fact(facts, "callback URL", d.callback_url);
    fact(facts, "status", d.status === null ? "—" : d.status);
    fact(facts, "latency", d.latency_ms.toFixed(1) + " ms");
    fact(facts, "uploader got", uploaderText(d));
    fact(facts, "replays", d.replays);
    fact(facts, "signature", d.signing === "kept" ? "old signature kept (not re-signed)" : "signed by the local OSS");
    $("d-callback").textContent = JSON.stringify(d.callback, null, 2);
    $("d-callback-var").textContent = JSON.stringify(d.callback_var, null, 2);
    const tries = $("d-tries");
    clear(tries);
    d.tries.forEach((t, i) => renderTry(tries, t, i, d.tries.length));
    const children = $("d-children");
    clear(children);
    for (const c of d.children) {
      const li = el("li", "#" + c.number + " " + kindText(c) + ": " + (c.status === null ? "no answer" : c.status) +
        " — " + c.verification.summary);
      li.addEventListener("click", () => select(c.id));
      children.appendChild(li);
    }
    if (!d.children.length) children.appendChild(el("li", "none yet"));
    const last = d.tries.length ? d.tries[d.tries.length - 1].request : null;
    $("replay").disabled = !last;
    $("resend").disabled = !last;
    if ($("e-path").dataset.for !== d.id) {
      $("e-path").value = last ? last.target : "";
      $("e-body").value = last ? last.body.text : "";
      $("e-keep").checked = false;
      $("e-path").dataset.for = d.id;
      $("e-result").textContent = "";
    }
  }

  async function select(id) {
    selected = id;
    try {
      renderDetails(await api("/api/callbacks/" + encodeURIComponent(id)));
      document.querySelectorAll("#callbacks tr.row").forEach(tr => tr.classList.toggle("selected", tr.dataset.id === id));
    } catch (err) {
      $("status").textContent = "cannot load #" + id + ": " + err.message;
    }
  }

  async function sendAgain(action, payload) {
    if (!selected) return null;
    const record = await api("/api/callbacks/" + encodeURIComponent(selected) + "/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
    await poll(true);
    return record;
  }

  async function poll(force) {
    try {
      const doc = await api("/api/callbacks" + (version !== null && !force ? "?since=" + version : ""));
      if (doc.changed) {
        version = doc.version;
        renderList(doc.callbacks);
        if (selected) await select(selected);
      }
      if (eventsVersion !== doc.version) {
        const ev = await api("/api/events");
        eventsVersion = doc.version;
        renderEvents(ev.events);
      }
      $("status").textContent = "live — updated " + time(Date.now() / 1000);
      $("status").className = "status live";
    } catch (err) {
      $("status").textContent = "cannot reach the local stack (" + err.message + "); retrying";
      $("status").className = "status down";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("close").addEventListener("click", () => { selected = null; $("details").hidden = true; poll(true); });
    $("replay").addEventListener("click", async () => {
      try {
        const r = await sendAgain("replay");
        if (r) $("e-result").textContent = "replayed as #" + r.number + ": " + r.verification.summary;
      } catch (err) { $("e-result").textContent = "replay failed: " + err.message; }
    });
    $("resend-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const r = await sendAgain("resend", { path: $("e-path").value, body: $("e-body").value, resign: !$("e-keep").checked });
        if (r) $("e-result").textContent = "re-sent as #" + r.number + ": " + (r.status === null ? "no answer" : r.status) + " — " + r.verification.summary;
      } catch (err) { $("e-result").textContent = "re-send failed: " + err.message; }
    });
    poll(true);
    setInterval(poll, POLL_MS);
  });
})();
