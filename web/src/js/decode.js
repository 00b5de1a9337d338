// Decoding the embedded data: the page's JSON, whose columns are base64 of little-endian typed
// arrays or of LEB128 varints (docs/report.md).
'use strict';

mpheap.decode = (() => {
  function bytes(b64) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(b64);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const u32 = (b64) => new Uint32Array(bytes(b64).buffer);
  // `count` unsigned LEB128 values (7 bits a byte, low first; a set high bit means more bytes
  // follow), exact up to 2^53.
  function varints(b64, count) {
    const b = bytes(b64);
    const out = new Float64Array(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      let byte = b[at++];
      let v = byte & 0x7f;
      for (let mul = 128; byte & 0x80; mul *= 128) {
        byte = b[at++];
        v += (byte & 0x7f) * mul;
      }
      out[i] = v;
    }
    if (at !== b.length) throw new Error(`varint column: ${b.length} bytes for ${count} values, ${at} read`);
    return out;
  }
  // Zigzag-decoded: 0, 1, 2, 3, ... as 0, -1, 1, -2, ...
  const unzigzag = (v) => (v % 2 ? -(v + 1) / 2 : v / 2);
  // The JSON `mpheap report` put in the element #mpheap-data.
  const pageData = () => JSON.parse(document.getElementById('mpheap-data').textContent);

  return { bytes, u32, varints, unzigzag, pageData };
})();
