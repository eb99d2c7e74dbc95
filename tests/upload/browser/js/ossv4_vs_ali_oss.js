// Our page's signer (static/ossv4.js) and ali-oss's own V4 signer (node_modules/ali-oss/lib/common/signUtils.js,
// authorizationV4, unchanged) on the same fixed requests: prints {cases, ali, ours} as one JSON line for
// tests/upload/browser/test_ossv4.py, which compares them byte for byte (and runs the same cases in Chromium).
"use strict";
const path = require("path");
const root = path.resolve(__dirname, "..", "..", "..", "..");
const signUtils = require(path.join(root, "node_modules", "ali-oss", "lib", "common", "signUtils.js"));
const ours = require(path.join(root, "shared", "osscallback", "upload", "browser", "static", "ossv4.js"));

const sts = { accessKeyId: "STS.NUgYrLnoC37mZZCNnAbez2", accessKeySecret: "9sJbbZ9L7Ck4TQ6u5ZgNsvr2hhC1HXXHfVFhdhLxtmjK",
  securityToken: "CAIS1AJ1q6Ft5B2yfSjIr5bSEsv+g+hHj4ubV1/SrGQ9QON0hbLOmDz2IHhMf3FhAO8Wsv8+mWBZ6vcYlqB6T55OSAmcNZEoa/oN" };
const longTerm = { accessKeyId: "LTAI5tExampleKeyId", accessKeySecret: "exampleSecret+/=with:punctuation" };
const uploadId = "0004B9894A22E5B1888A1E29F8236E2D";
const date = "20261207T093000Z";
const base = { "x-oss-date": date, "x-oss-content-sha256": "UNSIGNED-PAYLOAD" };
const withToken = Object.assign({ "x-oss-security-token": sts.securityToken }, base);
const callback = Buffer.from(JSON.stringify({ callbackUrl: "https://cb.example.com/callback",
  callbackBody: "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}", callbackBodyType:
  "application/x-www-form-urlencoded" })).toString("base64");

const cases = [
  { name: "InitiateMultipartUpload", creds: sts, region: "cn-hangzhou", method: "POST", bucket: "examplebucket",
    key: "uploads/3f2a/video.bin", query: { uploads: null },
    headers: Object.assign({ "Content-Type": "application/octet-stream" }, withToken) },
  { name: "UploadPart", creds: sts, region: "cn-hangzhou", method: "PUT", bucket: "examplebucket",
    key: "uploads/3f2a/video.bin", query: { partNumber: "1", uploadId },
    headers: Object.assign({ "Content-Type": "application/octet-stream" }, withToken) },
  { name: "ListParts", creds: sts, region: "cn-shanghai", method: "GET", bucket: "examplebucket",
    key: "uploads/3f2a/video.bin", query: { uploadId, "max-parts": "1000" }, headers: withToken },
  { name: "CompleteMultipartUpload with callback", creds: sts, region: "cn-hangzhou", method: "POST",
    bucket: "examplebucket", key: "uploads/3f2a/video.bin", query: { uploadId },
    headers: Object.assign({ "Content-Type": "application/xml", "x-oss-callback": callback,
      "x-oss-callback-var": Buffer.from('{"x:user":"alice"}').toString("base64") }, withToken) },
  { name: "AbortMultipartUpload", creds: sts, region: "cn-hangzhou", method: "DELETE", bucket: "examplebucket",
    key: "uploads/3f2a/video.bin", query: { uploadId }, headers: withToken },
  { name: "a key with spaces, brackets and CJK", creds: sts, region: "ap-southeast-1", method: "PUT",
    bucket: "examplebucket", key: "uploads/3f2a/holiday (1) 照片!*'~.mov", query: { partNumber: "10000", uploadId },
    headers: Object.assign({ "Content-Type": "application/octet-stream" }, withToken) },
  { name: "long-term credentials, no token", creds: longTerm, region: "cn-hangzhou", method: "POST",
    bucket: "examplebucket", key: "a/b.txt", query: { uploads: null }, headers: base },
];

(async () => {
  const ali = cases.map(c => signUtils.authorizationV4(c.creds.accessKeyId, c.creds.accessKeySecret, c.region,
    c.method, { headers: c.headers, queries: c.query }, c.bucket, c.key));
  const mine = [];
  for (const c of cases) mine.push(await ours.authorization(c.creds, c.region, c.method, c.bucket, c.key, c.query, c.headers));
  process.stdout.write(JSON.stringify({ cases, ali, ours: mine }) + "\n");
})().catch(e => { console.error(e); process.exit(1); });
