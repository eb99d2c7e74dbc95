// The page's large-file mode: an OSS multipart upload signed (ossv4.js) with the temporary credentials from GET sts,
// which may only upload under one key prefix (docs/DEPLOY.md, "Mobile and large uploads").
//
// InitiateMultipartUpload, the parts (a few at a time, each retried on a dropped connection or expired
// credentials), then CompleteMultipartUpload with the callback headers /sts hands out, so OSS calls the callback and
// answers with its JSON, as PostObject does for a small file. A fatal answer from OSS aborts the upload
// (AbortMultipartUpload). Resuming: the upload id, key, part size and part ETags are kept in localStorage under the
// file's identity (name, size, lastModified); picking the same file again (after a reload, or once the connection
// is back) asks OSS what it has (ListParts) and sends only the rest. The credentials are kept in sessionStorage
// only (a reload keeps them, closing the tab drops them) and fetched again when they are about to expire.
"use strict";

(function (root) {
  const MIN_PART = 1024 * 1024;  // ali-oss's default part size; OSS's minimum is 100 KB
  const MAX_PARTS = 10000;
  const WORKERS = 3;  // parts in flight at once
  const RETRIES = 3;  // per request, on a dropped connection or expired credentials
  const STORE = "osscb.multipart:";
  const CREDS = "osscb.sts";
  const MARGIN = 120 * 1000;  // fetch new credentials this long before they expire

  function partSize(size) { return Math.max(MIN_PART, Math.ceil(size / MAX_PARTS)); }
  function recordKey(file) { return STORE + JSON.stringify([file.name, file.size, file.lastModified]); }
  function load(file) { try { return JSON.parse(localStorage.getItem(recordKey(file)) || "null"); } catch (e) { return null; } }
  function save(file, record) { localStorage.setItem(recordKey(file), JSON.stringify(record)); }
  function forget(file) { localStorage.removeItem(recordKey(file)); }
  function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }

  // A failure the row shows: kind (data-kind), the line, and whether the upload was kept for a resume.
  function failure(kind, message, status, code) {
    const error = new Error(message);
    Object.assign(error, { kind, status: status || 0, code: code || "" });
    return error;
  }

  function xmlText(doc, name) { const n = doc.getElementsByTagName(name)[0]; return n ? n.textContent : ""; }
  function parseXml(text) { return new DOMParser().parseFromString(text || "<none/>", "application/xml"); }
  function ossError(text) {
    try { const doc = parseXml(text); return { code: xmlText(doc, "Code"), message: xmlText(doc, "Message") }; }
    catch (e) { return { code: "", message: "" }; }
  }
  function expired(err) { return err.code === "SecurityTokenExpired" || /expired/i.test(err.message); }

  // Credentials from GET sts, shared by every file of the page; the server's clock (its Date header) dates the
  // signatures, so a browser with a wrong clock still signs in OSS's 15-minute window.
  class Session {
    constructor(url) { this.url = url; this.skew = 0; this.pending = null; }

    now() { return new Date(Date.now() + this.skew); }

    cached() {
      try { return JSON.parse(sessionStorage.getItem(CREDS) || "null"); } catch (e) { return null; }
    }

    fresh(sts) { return sts && Date.parse(sts.Expiration) - this.now().getTime() > MARGIN; }

    async get(renew) {
      const sts = this.cached();
      if (!renew && this.fresh(sts)) return sts;
      if (!this.pending) this.pending = this.fetch().finally(() => { this.pending = null; });
      return this.pending;
    }

    async fetch() {
      let response;
      try {
        response = await fetch(this.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      } catch (e) {
        throw failure("sts-unreachable", "The credentials endpoint (sts) did not answer (" + e + "). Fix: reload.");
      }
      let doc = {};
      try { doc = await response.json(); } catch (e) { doc = {}; }
      if (!response.ok || !doc.ok) {
        throw failure("sts-denied", "The credentials endpoint refused (" + response.status + " " + (doc.error || "") +
          "): " + (doc.message || "no reason given"));
      }
      const served = Date.parse(response.headers.get("Date") || "");
      if (!Number.isNaN(served)) this.skew = served - Date.now();
      sessionStorage.setItem(CREDS, JSON.stringify(doc));
      return doc;
    }
  }

  function objectUrl(sts, key, query) {
    const q = OssV4.canonicalQuery(query);
    return sts.host + "/" + key.split("/").map(OssV4.encode).join("/") + (q ? "?" + q : "");
  }

  // One signed request to OSS; resolves to {status, text, etag}, rejects with {network: true} when no answer came.
  async function send(session, sts, method, key, query, headers, body, onProgress) {
    const creds = { accessKeyId: sts.AccessKeyId, accessKeySecret: sts.AccessKeySecret, securityToken: sts.SecurityToken };
    const signed = await OssV4.sign(creds, sts.region, method, sts.bucket, key, query, headers, session.now());
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, objectUrl(sts, key, query));
      for (const [name, value] of Object.entries(signed)) xhr.setRequestHeader(name, value);
      xhr.timeout = 10 * 60 * 1000;
      if (onProgress) xhr.upload.addEventListener("progress", e => onProgress(e.loaded));
      xhr.addEventListener("load", () => resolve({ status: xhr.status, text: xhr.responseText,
        etag: xhr.getResponseHeader("ETag") }));
      xhr.addEventListener("error", () => reject({ network: true }));
      xhr.addEventListener("timeout", () => reject({ network: true }));
      xhr.addEventListener("abort", () => reject({ network: true }));
      xhr.send(body === undefined ? null : body);
    });
  }

  // send() with retries: a dropped connection (backing off), expired credentials (new ones from sts, which must
  // still cover the key: an authorizer that hands each request a fresh prefix, as `anonymous` does, cannot renew).
  async function call(session, method, key, query, headers, body, onProgress) {
    for (let attempt = 0; ; attempt++) {
      const sts = await session.get(false);
      if (!key.startsWith(sts.key_prefix)) {
        throw failure("expired", "The credentials from sts expired, and the new ones may only upload under " +
          "another prefix (" + sts.key_prefix + "): upload the file again. Fix: an UPLOAD_AUTHORIZER that gives " +
          "each user a stable prefix lets an upload outlive UPLOAD_STS_DURATION.");
      }
      let answer;
      try {
        answer = await send(session, sts, method, key, query, headers, body, onProgress);
      } catch (e) {
        if (!e || !e.network) throw e;
        if (attempt >= RETRIES) throw failure("interrupted", "dropped");
        await sleep(500 * 2 ** attempt);
        continue;
      }
      if (answer.status === 403 && expired(ossError(answer.text)) && attempt < RETRIES) {
        await session.get(true);
        continue;
      }
      return answer;
    }
  }

  // What OSS holds of the upload: {partNumber: etag} for parts of the expected size, or null when it is gone.
  async function listParts(session, record) {
    const parts = {};
    let marker = "";
    for (;;) {
      const query = { uploadId: record.uploadId, "max-parts": "1000" };
      if (marker) query["part-number-marker"] = marker;
      const answer = await call(session, "GET", record.key, query, {});
      if (answer.status === 404) return null;  // NoSuchUpload: completed, aborted or expired
      if (answer.status !== 200) throw answerFailure(answer);
      const doc = parseXml(answer.text);
      for (const part of Array.from(doc.getElementsByTagName("Part"))) {
        const n = Number(xmlText(part, "PartNumber"));
        if (Number(xmlText(part, "Size")) === expectedSize(record, n)) parts[n] = xmlText(part, "ETag");
      }
      if (xmlText(doc, "IsTruncated") !== "true") return parts;
      marker = xmlText(doc, "NextPartNumberMarker");
    }
  }

  function expectedSize(record, n) { return Math.min(record.partSize, record.size - (n - 1) * record.partSize); }

  function answerFailure(answer) {
    const err = ossError(answer.text);
    const said = err.message ? " OSS said: " + err.message : "";
    if (answer.status === 403 && err.code === "AccessDenied") {
      return failure("denied", "OSS refused the upload (403 AccessDenied)." + said +
        " Fix: the credentials from sts may only upload under their key prefix; check the role UPLOAD_STS_ROLE_ARN" +
        " may oss:PutObject there.", 403, err.code);
    }
    return failure("oss", "OSS answered " + answer.status + " " + (err.code || "") + "." + said, answer.status, err.code);
  }

  function completeBody(record) {
    const parts = Object.keys(record.parts).map(Number).sort((a, b) => a - b)
      .map(n => "<Part><PartNumber>" + n + "</PartNumber><ETag>" + record.parts[n] + "</ETag></Part>");
    return "<CompleteMultipartUpload>" + parts.join("") + "</CompleteMultipartUpload>";
  }

  // One file; view: {progress(fraction), parts(done, total, resumed), message(text)}. Resolves to
  // {key, status, text} from CompleteMultipartUpload; rejects with a failure (kind, message).
  async function upload(file, session, view) {
    let sts = await session.get(false);
    let record = load(file);
    let resumed = 0;
    if (record && !record.key.startsWith(sts.key_prefix)) {
      view.message("The earlier upload of this file was under credentials for another prefix; starting over.");
      forget(file);
      record = null;
    }
    if (record) {
      view.message("resuming: asking OSS which parts it has…");
      const held = await listParts(session, record);
      if (held === null) { forget(file); record = null; }
      else { record.parts = held; resumed = Object.keys(held).length; save(file, record); }
    }
    if (!record) {
      const key = sts.key_prefix + file.name;
      const answer = await call(session, "POST", key, { uploads: null },
        { "Content-Type": file.type || "application/octet-stream" });
      if (answer.status !== 200) throw answerFailure(answer);
      record = { uploadId: xmlText(parseXml(answer.text), "UploadId"), key, size: file.size,
        partSize: partSize(file.size), parts: {} };
      save(file, record);
    }
    try {
      await sendParts(file, session, record, view, resumed);
    } catch (e) {
      if (e.kind !== "interrupted") await abort(session, file, record);
      throw e;
    }
    view.message("completing…");
    sts = await session.get(false);
    const headers = { "Content-Type": "application/xml", "x-oss-callback": sts.callback };
    if (sts.callback_var) headers["x-oss-callback-var"] = sts.callback_var;
    if (!sts.callback) delete headers["x-oss-callback"];
    const answer = await call(session, "POST", record.key, { uploadId: record.uploadId }, headers, completeBody(record));
    if (answer.status === 200 || answer.status === 203) {
      forget(file);  // 203: stored, the callback failed; either way there is nothing left to resume
      return { key: record.key, status: answer.status, text: answer.text };
    }
    if (answer.status === 404 && ossError(answer.text).code === "NoSuchUpload") {
      forget(file);
      throw failure("gone", "OSS no longer has this upload (404 NoSuchUpload): it was completed while the " +
        "connection dropped (then " + record.key + " is stored, and the OSS trigger's backstop runs the action), " +
        "or aborted. Fix: check the object, or upload the file again.", 404, "NoSuchUpload");
    }
    const failed = answerFailure(answer);
    if (answer.status >= 400 && answer.status < 500) await abort(session, file, record);
    throw failed;
  }

  async function sendParts(file, session, record, view, resumed) {
    const total = Math.max(1, Math.ceil(file.size / record.partSize));
    const todo = [];
    for (let n = 1; n <= total; n++) if (!record.parts[n]) todo.push(n);
    const inFlight = {};
    const doneBytes = () => Object.keys(record.parts).reduce((sum, n) => sum + expectedSize(record, Number(n)), 0);
    const show = () => {
      const flying = Object.values(inFlight).reduce((a, b) => a + b, 0);
      view.progress((doneBytes() + flying) / (file.size || 1));
      view.parts(Object.keys(record.parts).length, total, resumed);
    };
    show();
    view.message(resumed ? "resuming: " + resumed + " of " + total + " parts were already in OSS…" : "uploading in parts…");
    const worker = async () => {
      while (todo.length) {
        const n = todo.shift();
        const start = (n - 1) * record.partSize;
        const blob = file.slice(start, Math.min(file.size, start + record.partSize));
        inFlight[n] = 0;
        const answer = await call(session, "PUT", record.key, { partNumber: String(n), uploadId: record.uploadId },
          { "Content-Type": "application/octet-stream" }, blob, loaded => { inFlight[n] = loaded; show(); });
        delete inFlight[n];
        if (answer.status !== 200 || !answer.etag) throw answerFailure(answer);
        if (record.aborted) return;  // another part failed for good: nothing to keep
        record.parts[n] = answer.etag;
        save(file, record);
        show();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(WORKERS, todo.length) }, worker));
    } catch (e) {
      todo.length = 0;  // the other workers stop after their current part
      throw e;
    }
  }

  // Best effort: a fatal answer ends the upload, and its parts should not linger (a lifecycle rule for
  // incomplete multipart uploads removes them if this fails too).
  async function abort(session, file, record) {
    record.aborted = true;
    forget(file);
    try { await call(session, "DELETE", record.key, { uploadId: record.uploadId }, {}); } catch (e) { /* kept by OSS */ }
  }

  root.OssMultipart = { Session, upload, partSize, recordKey };
}(globalThis));
