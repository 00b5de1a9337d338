// Heap snapshots: the objects of each dump decoded on first use, the block map's owners for
// one snapshot, colour slots for types and run-time addresses of blocks.
'use strict';

mpheap.SnapshotModel = (() => {
  const { bytes, u32 } = mpheap.decode;

  function SnapshotModel(s, blockSize) {
    const m = this;
    m.strings = s.strings;
    m.list = s.list;
    m.blockSize = blockSize;
    m.mapBlocks = 1;
    for (const x of m.list) {
      x.totalBlocks = x.areas.reduce((sum, area) => sum + area[1], 0);
      m.mapBlocks = Math.max(m.mapBlocks, x.totalBlocks);
    }
    m.owner = new Int32Array(m.mapBlocks).fill(-1);
    m.cur = -1;
    m.types = new Map(); // type string index -> colour slot
  }
  SnapshotModel.prototype.objects = function objects(i) {
    const x = this.list[i];
    if (!x.decoded) {
      const o = x.objects;
      x.decoded = {
        count: o.count,
        block: u32(o.block),
        blocks: u32(o.blocks),
        retained: u32(o.retained),
        type: u32(o.type),
        parent: u32(o.parent),
        hop: u32(o.hop),
        garbage: bytes(o.garbage),
      };
    }
    return x.decoded;
  };
  // Object j's retainer path in snapshot i: the hops from its root down to it (each object
  // stores only its last hop and its parent, index + 1; 0 for an object a root holds).
  SnapshotModel.prototype.path = function path(i, j) {
    const o = this.objects(i);
    const hops = [];
    for (let k = j; k >= 0 && hops.length <= o.count; k = o.parent[k] - 1) hops.push(this.strings[o.hop[k]]);
    return hops.reverse().join('');
  };
  SnapshotModel.prototype.seek = function seek(i) {
    const o = this.objects(i);
    this.owner.fill(-1);
    let used = 0;
    for (let j = 0; j < o.count; j++) {
      const end = o.block[j] + o.blocks[j];
      for (let b = o.block[j]; b < end; b++) this.owner[b] = j;
      used += o.blocks[j];
    }
    this.live = used;
    this.cur = i;
  };
  SnapshotModel.prototype.typeSlot = function typeSlot(t) {
    if (!this.types.has(t)) this.types.set(t, this.types.size);
    return this.types.get(t);
  };
  // Run-time address of a block counted over the areas laid end to end.
  SnapshotModel.prototype.address = function address(i, block) {
    let b = block;
    for (const [start, blocks] of this.list[i].areas) {
      if (b < blocks) return '0x' + (BigInt(start) + BigInt(b * this.blockSize)).toString(16);
      b -= blocks;
    }
    return '?';
  };

  return SnapshotModel;
})();
