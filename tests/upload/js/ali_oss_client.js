// ali-oss (npm, pinned in package.json), unchanged, as an app or a browser uses it with the credentials the
// policy function's GET /sts hands out. Driven by tests/upload/test_ali_oss.py; prints one JSON line.
//
//   node ali_oss_client.js <mode> <sts answer file> [key] [file] [checkpoint file]
//
// modes: multipart (multipartUpload with the callback option, parts of 5 MiB, 4 at a time), interrupt (the same,
// but the process exits abruptly once 2 parts are done, leaving the checkpoint ali-oss reported in the checkpoint
// file), resume (multipartUpload from that checkpoint), put (a simple put with the callback), get, list, delete.
'use strict';
const fs = require('fs');
const OSS = require('ali-oss');

const [mode, stsFile, key, file, checkpointFile] = process.argv.slice(2);
const sts = JSON.parse(fs.readFileSync(stsFile, 'utf8'));

const client = new OSS({
  region: 'oss-' + sts.region,
  accessKeyId: sts.AccessKeyId,
  accessKeySecret: sts.AccessKeySecret,
  stsToken: sts.SecurityToken,
  bucket: sts.bucket,
  endpoint: sts.endpoint,
  authorizationV4: true, // buckets created since 2025-09-01 refuse V1 signatures
  timeout: 60000,
});

// ali-oss's callback option: { url, host, body, contentType, customValue } (it encodes x-oss-callback itself).
function callbackOption() {
  const p = sts.callback_parameters;
  const option = { url: p.url, body: p.body, contentType: p.contentType };
  if (p.host) option.host = p.host;
  if (p.customValue && Object.keys(p.customValue).length) option.customValue = p.customValue;
  return option;
}

function done(doc) {
  process.stdout.write(JSON.stringify(doc) + '\n');
}

function failed(err) {
  done({ ok: false, name: err.name, code: err.code, status: err.status, message: err.message, ec: err.ec });
}

async function main() {
  const partSize = 5 * 1024 * 1024;
  if (mode === 'multipart' || mode === 'interrupt') {
    let parts = 0;
    const result = await client.multipartUpload(key, file, {
      partSize,
      parallel: 4,
      callback: callbackOption(),
      progress: async (p, checkpoint) => {
        if (mode !== 'interrupt' || !checkpoint) return;
        parts = checkpoint.doneParts.length;
        if (parts >= 2) {
          fs.writeFileSync(checkpointFile, JSON.stringify(checkpoint));
          done({ ok: true, interrupted: true, parts, uploadId: checkpoint.uploadId });
          process.exit(3); // as a killed app or a closed tab: no abort, no clean-up
        }
      },
    });
    done({ ok: true, status: result.res.status, data: result.data, name: result.name });
  } else if (mode === 'resume') {
    const checkpoint = JSON.parse(fs.readFileSync(checkpointFile, 'utf8'));
    const before = checkpoint.doneParts.length;
    let uploaded = 0;
    const result = await client.multipartUpload(key, file, {
      partSize,
      parallel: 4,
      checkpoint,
      callback: callbackOption(),
      progress: async (p, cp) => { if (cp) uploaded = cp.doneParts.length; },
    });
    done({ ok: true, status: result.res.status, data: result.data, name: result.name,
           resumedFrom: before, uploadId: checkpoint.uploadId, partsAtEnd: uploaded });
  } else if (mode === 'put') {
    const result = await client.put(key, Buffer.from('hello from ali-oss'), { callback: callbackOption() });
    done({ ok: true, status: result.res.status, data: result.data });
  } else if (mode === 'get') {
    await client.get(key);
    done({ ok: true });
  } else if (mode === 'list') {
    await client.list({ prefix: sts.key_prefix, 'max-keys': 10 });
    done({ ok: true });
  } else if (mode === 'delete') {
    await client.delete(key);
    done({ ok: true });
  } else {
    throw new Error('unknown mode ' + mode);
  }
}

main().catch((err) => { failed(err); process.exit(1); });
