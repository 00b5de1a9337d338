# Workload for bench/make_heap8m.sh: fills most of an 8 MiB MicroPython heap (unix port,
# -X heapsize=8M) with a realistic mix of live objects and some garbage, then calls hash(),
# where the generator's breakpoint takes the snapshot.
#   live: class instances with their attribute dicts, lists, dicts, tuples, strings, bytes and
#         bytearrays, floats, closures and bound methods, generators; a deep linked chain, a
#         wide tree, a binary tree, cycles;
#   garbage: what each batch drops (freed by the collections in between, so the live objects
#         end up scattered), plus a last round of garbage no collection has freed yet.
# HEAP8M_LIVE (a percent, default 74) is how much of the heap the live objects fill.
# HEAP8M_PAUSE=1 sleeps after the snapshot point (the generator's dry run reads the maps then).
import gc
import os
import time

gc.collect()
TOTAL = gc.mem_free() + gc.mem_alloc()
LIVE_PERCENT = int(os.getenv("HEAP8M_LIVE") or "74")


class Node:
    def __init__(self, name, value, parent):
        self.name = name
        self.value = value
        self.parent = parent
        self.children = []

    def add(self, child):
        self.children.append(child)
        return child


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm2(self):
        return self.x * self.x + self.y * self.y


class Record:
    def __init__(self, key, payload, tags):
        self.key = key
        self.payload = payload
        self.tags = tags
        self.meta = {"size": len(payload), "seen": 0}


def make_adder(k):
    def add(x):
        return x + k

    return add


def make_counter(start):
    box = [start]

    def step():
        box[0] += 1
        return box[0]

    return step


def countdown(n):
    while n > 0:
        yield n
        n -= 1


ROOT = Node("root", 0, None)  # a wide tree: root -> batch nodes -> many leaves
CHAIN = None  # a deep singly linked chain through lists
TREE = {}  # binary trees by batch
RECORDS = {}  # key -> Record
POINTS = []
STRINGS = []
BUFFERS = []
CALLBACKS = []
TABLES = []
GENERATORS = []


def binary_tree(depth, tag):
    if depth == 0:
        return (tag,)
    return (binary_tree(depth - 1, tag), binary_tree(depth - 1, tag + 1), tag)


def batch(b):
    global CHAIN
    garbage = []
    parent = ROOT.add(Node("batch %d" % b, b, ROOT))
    for i in range(120):
        leaf = parent.add(Node("n%d.%d" % (b, i), i * 0.5, parent))
        if i % 10 == 0:
            leaf.children.append(Point(i, b))
        garbage.append([i, str(i), (i, i)])
    for i in range(300):
        CHAIN = [b * 1000 + i, CHAIN]
    TREE[b] = binary_tree(6, b)
    for i in range(80):
        key = "rec-%d-%d" % (b, i)
        r = Record(key, bytes(range(i % 40)), ["t%d" % (i % 7), "batch"])
        RECORDS[key] = r
        garbage.append({"tmp": key, "n": i})
    for i in range(100):
        POINTS.append(Point(float(i), float(b)))
    for i in range(60):
        STRINGS.append("string number %d of batch %d, padded to some length" % (i, b))
        STRINGS.append(str(b * 100 + i) * (1 + i % 5))
        garbage.append("temporary %d" % i * 3)
    for i in range(4):
        size = (64, 512, 2000, 6000)[i]
        buf = bytearray(size)
        for k in range(0, size, 97):
            buf[k] = (k + b) & 0xFF
        BUFFERS.append(buf)
        garbage.append(bytearray(size // 2))
    for i in range(20):
        CALLBACKS.append(make_adder(i))
        CALLBACKS.append(make_counter(b + i))
        CALLBACKS.append(POINTS[-1 - i].norm2)
    table = {}
    for i in range(50):
        table[i] = [i, i * 2.5, "v%d" % i]
        table["k%d" % i] = (i, b)
    TABLES.append(table)
    g = countdown(b + 3)
    next(g)
    GENERATORS.append(g)
    cyc = [b]
    cyc.append(cyc)  # a cycle
    TABLES.append({"self": cyc, "list": list(range(b % 30))})
    return garbage


b = 0
while True:
    batch(b)  # what it returns is garbage at once
    b += 1
    if b % 8 == 0:
        gc.collect()
        if gc.mem_alloc() * 100 >= TOTAL * LIVE_PERCENT:
            break

# Garbage the next collection would free: no collection after this.
LEFTOVER = []
for i in range(3000):
    LEFTOVER.append(["garbage", i, "x" * (i % 50)])
    if i % 40 == 0:
        LEFTOVER.append(bytearray(700))
LEFTOVER = None

print("heap8m workload: %d batches, %d of %d bytes allocated" % (b, gc.mem_alloc(), TOTAL))
hash(TOTAL)  # the snapshot point: bench/make_heap8m.sh breaks in mp_builtin_hash
if os.getenv("HEAP8M_PAUSE"):
    time.sleep(60)
