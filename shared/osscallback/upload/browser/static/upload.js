// The upload page: for each file, a policy from this function (GET policy), then a PostObject straight to OSS with
// XHR (for upload progress), then the callback's JSON answer. Every name and answer goes into the DOM through
// textContent only, and the page is served with a CSP that allows no inline code.
// Shape: start(files) takes a batch (picked or dropped) and says what was chosen (#chosen; the native input is
// hidden), upload(file) runs one file and resolves to its final state ("done" or "failed"), post(...) is the
// XHR to OSS. Beside it, large(...): a file of at least the policy's multipart_threshold goes up in parts with
// credentials from GET sts (multipart.js, signed by ossv4.js), resumable after a reload.
"use strict";

(function () {
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const policyUrl = base + "policy";
  const list = document.getElementById("uploads");
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const limits = document.getElementById("limits");
  const chosen = document.getElementById("chosen");
  const status = document.getElementById("status");
  const session = new OssMultipart.Session(base + "sts");
  let batches = 0;  // the newest batch owns the #chosen line

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  function row(file) {
    const item = el("li", "file");
    item.dataset.state = "waiting";
    item.dataset.progressEvents = "0";
    const head = el("div", "head");
    head.append(el("span", "name", file.name), el("span", "size", size(file.size)));
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    item.append(head, bar, el("p", "parts"), el("p", "message", "asking for a policy…"), el("pre", "answer"));
    list.prepend(item);
    return item;
  }

  function finish(item, state, kind, message, answer) {
    item.dataset.state = state;
    item.dataset.kind = kind;
    item.querySelector(".message").textContent = message;
    if (answer !== undefined) item.querySelector(".answer").textContent = answer;
  }

  // OSS's error document: <Error><Code>…</Code><Message>…</Message>…</Error> (parsed as XML, never as HTML).
  function ossError(text) {
    try {
      const doc = new DOMParser().parseFromString(text || "", "application/xml");
      const pick = (name) => { const n = doc.getElementsByTagName(name)[0]; return n ? n.textContent : ""; };
      return { code: pick("Code"), message: pick("Message") };
    } catch (e) {
      return { code: "", message: "" };
    }
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // One line per failure: what happened, and the fix.
  function explain(status, text, policy) {
    const err = ossError(text);
    const said = err.message ? " OSS said: " + err.message : "";
    if (status === 203 || err.code === "CallbackFailed") {
      return ["callback", "Stored, but the callback failed." + said +
        " Fix: make the callback URL reachable from OSS and answer JSON within 5 s."];
    }
    if (err.code === "EntityTooLarge") {
      return ["too-large", "The file is larger than the policy allows (at most " + size(policy.max_size) + ")." +
        " Fix: pick a smaller file, or raise UPLOAD_MAX_SIZE."];
    }
    if (err.code === "EntityTooSmall") {
      return ["too-small", "The file is smaller than the policy allows." + said];
    }
    if (/expired/i.test(err.message)) {
      return ["expired", "The upload policy expired before the upload reached OSS." + said +
        " Fix: upload again (a new policy is fetched), or raise UPLOAD_POLICY_EXPIRES."];
    }
    if (status === 403 || err.code === "AccessDenied" || err.code === "InvalidPolicyDocument" ||
        err.code === "SignatureDoesNotMatch") {
      return ["policy-refused", "OSS refused the upload policy (" + status + " " + (err.code || "") + ")." + said +
        " Fix: check the function's role may PutObject in the bucket, and its clock."];
    }
    return ["oss", "OSS answered " + status + " " + (err.code || "") + "." + said];
  }

  async function getPolicy() {
    let response;
    try {
      response = await fetch(policyUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (e) {
      throw { kind: "policy-unreachable", message: "The policy endpoint did not answer (" + e + "). Fix: reload." };
    }
    let doc = {};
    try { doc = await response.json(); } catch (e) { doc = {}; }
    if (!response.ok || !doc.ok) {
      throw { kind: "policy-denied", message: "The policy endpoint refused (" + response.status + " " +
        (doc.error || "") + "): " + (doc.message || "no reason given") };
    }
    return doc;
  }

  // The PostObject to OSS for one file with its policy; resolves once the row shows the outcome.
  function post(item, file, policy) {
    const form = new FormData();
    form.append("key", policy.key_prefix + file.name);
    for (const [name, value] of Object.entries(policy.fields)) form.append(name, value);
    form.append("file", file); // OSS requires the file to be the last field
    const bar = item.querySelector("progress");
    const xhr = new XMLHttpRequest();
    item.dataset.state = "uploading";
    item.querySelector(".message").textContent = "uploading…";
    return new Promise((resolve) => {
      const end = (state, kind, message, answer) => { finish(item, state, kind, message, answer); resolve(); };
      xhr.upload.addEventListener("progress", (event) => {
        item.dataset.progressEvents = String(Number(item.dataset.progressEvents) + 1);
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 200) {
          bar.value = 100;
          end("done", "done", "Uploaded as " + policy.key_prefix + file.name + "; the callback answered:",
              pretty(xhr.responseText));
          return;
        }
        const [kind, message] = explain(xhr.status, xhr.responseText, policy);
        end("failed", kind, message);
      });
      // status 0: the browser withheld OSS's answer (or never sent the request after a refused preflight)
      xhr.addEventListener("error", () => end("failed", "cors",
        "The browser blocked the upload: the bucket's CORS rules do not allow this page's origin (" +
        location.origin + "), or OSS is unreachable. Fix: allow the origin with `osscallback cors` (docs/DEPLOY.md)."));
      xhr.addEventListener("timeout", () => end("failed", "timeout", "OSS did not answer in time. Fix: retry."));
      xhr.open("POST", policy.host);
      xhr.timeout = 10 * 60 * 1000;
      xhr.send(form);
    });
  }

  // One file: its row, a policy, the upload; resolves to the row's final state.
  async function upload(file) {
    const item = row(file);
    let policy;
    try {
      policy = await getPolicy();
    } catch (e) {
      finish(item, "failed", e.kind || "policy-denied", e.message || String(e));
      return item.dataset.state;
    }
    const threshold = policy.multipart_threshold;
    limits.textContent = threshold ? "Files of " + size(threshold) + " or more go up in parts and can resume; " +
      "smaller ones at most " + size(policy.max_size) + "." :
      "At most " + size(policy.max_size) + " per file; uploads go under " + policy.key_prefix;
    if (threshold && file.size >= threshold) await large(item, file);
    else await post(item, file, policy);
    return item.dataset.state;
  }

  // A large file: a multipart upload with credentials from GET sts; resolves once the row shows the outcome.
  async function large(item, file) {
    const bar = item.querySelector("progress");
    const message = item.querySelector(".message");
    const parts = item.querySelector(".parts");
    item.dataset.state = "uploading";
    item.dataset.mode = "multipart";
    const view = {
      progress: (fraction) => {
        item.dataset.progressEvents = String(Number(item.dataset.progressEvents) + 1);
        bar.value = Math.min(100, Math.floor(fraction * 100));
      },
      parts: (done, total, resumed) => {
        Object.assign(item.dataset, { partsDone: done, partsTotal: total, partsResumed: resumed });
        parts.textContent = "Part " + done + " of " + total + " done" + (resumed ? " (" + resumed + " resumed)" : "");
      },
      message: (text) => { message.textContent = text; },
    };
    let result;
    try {
      result = await OssMultipart.upload(file, session, view);
    } catch (e) {
      if (e.kind === "interrupted" && item.dataset.partsTotal && item.dataset.partsDone === item.dataset.partsTotal) {
        finish(item, "failed", "interrupted", "The connection to OSS dropped while completing the upload (all " +
          item.dataset.partsTotal + " parts are in OSS). Pick the same file again to finish it.");
      } else if (e.kind === "interrupted" && item.dataset.partsTotal) {
        finish(item, "failed", "interrupted", "The connection to OSS dropped after " + item.dataset.partsDone +
          " of " + item.dataset.partsTotal + " parts. Pick the same file again to resume: the finished parts are kept.");
      } else if (e.kind === "interrupted") {  // not one answer from OSS: what post() says of status 0
        finish(item, "failed", "cors", "The browser blocked the upload: the bucket's CORS rules do not allow this " +
          "page's origin (" + location.origin + ") with PUT, POST and DELETE, or OSS is unreachable. Fix: allow the " +
          "origin with `osscallback cors` (docs/DEPLOY.md).");
      } else {
        finish(item, "failed", e.kind || "oss", e.message || String(e));
      }
      return;
    }
    if (result.status === 200) {
      bar.value = 100;
      finish(item, "done", "done", "Uploaded in " + item.dataset.partsTotal + " parts as " + result.key +
        "; the callback answered:", pretty(result.text));
      return;
    }
    const [kind, text] = explain(result.status, result.text, {});
    finish(item, "failed", kind, text);
  }

  // Uploads a reload interrupted: say so, so the user picks the same file again.
  function pending() {
    const names = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith("osscb.multipart:")) continue;
      try { const [name, bytes] = JSON.parse(key.slice("osscb.multipart:".length)); names.push(name + " (" + size(bytes) + ")"); }
      catch (e) { /* not ours */ }
    }
    status.textContent = names.length ? "Not finished: " + names.join(", ") + ". Pick the same file again to resume." : "";
  }

  // "photo.bin (200.0 KiB)", or "3 files (1.2 MiB): a.bin, b.bin, c.bin"
  function describe(files) {
    const total = size(files.reduce((sum, f) => sum + f.size, 0));
    if (files.length === 1) return files[0].name + " (" + total + ")";
    return files.length + " files (" + total + "): " + files.map(f => f.name).join(", ");
  }

  async function start(files) {
    const batch = Array.from(files);
    if (!batch.length) return;
    const mine = ++batches;
    const what = describe(batch);
    chosen.textContent = "Uploading " + what + "…";
    const states = await Promise.all(batch.map(upload));
    pending();
    if (mine !== batches) return;  // a newer choice owns the line
    const failed = states.filter(state => state !== "done").length;
    if (failed === 0) chosen.textContent = "Uploaded " + what + ".";
    else if (batch.length === 1) chosen.textContent = "Not uploaded: " + what + " (see below).";
    else chosen.textContent = what + ": " + (batch.length - failed) + " uploaded, " + failed + " failed (see below).";
  }

  pending();
  input.addEventListener("change", () => { start(input.files); input.value = ""; });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    start(event.dataTransfer.files);
  });
}());
