// Decoding the embedded data: the page's JSON, whose columns are base64 of little-endian typed
// arrays (docs/report.md).
'use strict';

mpheap.decode = (() => {
  function bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const u32 = (b64) => new Uint32Array(bytes(b64).buffer);
  // The JSON `mpheap report` put in the element #mpheap-data.
  const pageData = () => JSON.parse(document.getElementById('mpheap-data').textContent);

  return { bytes, u32, pageData };
})();
