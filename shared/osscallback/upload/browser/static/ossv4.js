// OSS V4 request signing (OSS4-HMAC-SHA256) with Web Crypto only: the upload page signs its multipart requests with
// the temporary credentials from GET sts. Written for this page (no third-party code); the same file runs in Node
// 20+ (globalThis.crypto.subtle), where tests/upload/browser/test_ossv4.py compares its Authorization headers with
// ali-oss's own signer (lib/common/signUtils.js authorizationV4) byte for byte.
//
// The algorithm (OSS, "Include a V4 signature in the Authorization header (recommended)",
// https://help.aliyun.com/en/oss/developer-reference/recommend-to-use-signature-version-4): a canonical request (method, /bucket/key, sorted query, the content-type, content-md5 and
// x-oss-* headers, no additional headers, the payload hash UNSIGNED-PAYLOAD), hashed into a string to sign with the
// date and the scope <yyyymmdd>/<region>/oss/aliyun_v4_request, signed with a key derived by HMAC-SHA256 from
// "aliyun_v4" + secret, the date, the region, "oss" and "aliyun_v4_request".
"use strict";

(function (root) {
  const subtle = root.crypto.subtle;
  const utf8 = new TextEncoder();

  // RFC 3986: encodeURIComponent leaves !'()* alone; OSS (and ali-oss) encode them too.
  function encode(value) {
    return encodeURIComponent(String(value)).replace(/[!'()*]/g, c => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), b => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256hex(text) {
    return hex(await subtle.digest("SHA-256", utf8.encode(text)));
  }

  async function hmac(key, text) {
    const raw = typeof key === "string" ? utf8.encode(key) : key;
    const imported = await subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return subtle.sign("HMAC", imported, utf8.encode(text));
  }

  // "uploads" (no value: null), "partNumber=1&uploadId=…": keys sorted, both sides encoded.
  function canonicalQuery(query) {
    return Object.keys(query || {}).map(k => [encode(k), query[k]]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => (v === null || v === undefined ? k : k + "=" + encode(v))).join("&");
  }

  function signedHeaderNames(headers) {
    return Object.keys(headers).map(h => h.toLowerCase())
      .filter(h => h === "content-type" || h === "content-md5" || h.startsWith("x-oss-")).sort();
  }

  function canonicalRequest(method, bucket, key, query, headers) {
    const lower = {};
    for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = String(value).trim();
    const uri = encode("/" + (bucket ? bucket + "/" : "") + (key || "")).replace(/%2F/g, "/");
    const canonicalHeaders = signedHeaderNames(headers).map(h => h + ":" + lower[h] + "\n").join("");
    return [method.toUpperCase(), uri, canonicalQuery(query), canonicalHeaders, "",
      lower["x-oss-content-sha256"] || "UNSIGNED-PAYLOAD"].join("\n");
  }

  // The Authorization header for one request whose headers already hold x-oss-date (yyyymmddTHHMMSSZ) and, with
  // temporary credentials, x-oss-security-token.
  async function authorization(creds, region, method, bucket, key, query, headers) {
    const date = headers["x-oss-date"];
    const day = date.split("T")[0];
    const scope = day + "/" + region + "/oss/aliyun_v4_request";
    const request = canonicalRequest(method, bucket, key, query, headers);
    const toSign = ["OSS4-HMAC-SHA256", date, scope, await sha256hex(request)].join("\n");
    let signingKey = await hmac("aliyun_v4" + creds.accessKeySecret, day);
    for (const part of [region, "oss", "aliyun_v4_request"]) signingKey = await hmac(signingKey, part);
    const signature = hex(await hmac(signingKey, toSign));
    // no space after the comma, as ali-oss writes it (OSS's page above shows ", " between the parts)
    return "OSS4-HMAC-SHA256 Credential=" + creds.accessKeyId + "/" + scope + ",Signature=" + signature;
  }

  function amzDate(when) {  // 20261207T093000Z
    return when.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  // The headers to send: the caller's, the date, the payload hash, the token and the Authorization.
  async function sign(creds, region, method, bucket, key, query, headers, when) {
    const all = Object.assign({}, headers, {
      "x-oss-date": amzDate(when || new Date()),
      "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
    });
    if (creds.securityToken) all["x-oss-security-token"] = creds.securityToken;
    all["Authorization"] = await authorization(creds, region, method, bucket, key, query, all);
    return all;
  }

  const api = { encode, canonicalQuery, canonicalRequest, authorization, sign, amzDate };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.OssV4 = api;
}(typeof globalThis !== "undefined" ? globalThis : this));
