'use strict';
// Shared helpers of the node test suite (not a test file: no .test.js).
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const zippy = require('..');

const made = [];
/** A fresh empty directory, removed when the process exits. */
function tmpdir(tag = 'z') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `zippy-node-${tag}-`));
  made.push(d);
  return d;
}
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A store path inside a fresh directory (the store itself does not exist yet). */
function storePath(tag) {
  return path.join(tmpdir(tag), 'store');
}

/** Every file under dir with its bytes, to check that nothing changed. */
function snapshot(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

const CLI = process.env.ZIPPY_CLI || path.join(REPO, 'build', 'zippy');

module.exports = { REPO, CLI, zippy, tmpdir, storePath, snapshot };
