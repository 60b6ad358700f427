#!/usr/bin/env python3
"""Writes the seeds of fuzz/model_files_fuzzer.cpp into fuzz/corpus/model_files/: a small valid
model set (3 items, 2 users, every channel, no ANN, no ranker) in the models room's binary
formats (src/models/binary_io.h), and variants that each break one rule. Run it again after a
format change: python3 fuzz/model_files_seeds.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "model_files")


def header(magic, version=1):
    return magic.encode().ljust(8, b" ") + struct.pack("<I", version)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def i64(v):
    return struct.pack("<q", v)


def f32(v):
    return struct.pack("<f", v)


def array(pack, values):
    return u64(len(values)) + b"".join(pack(v) for v in values)


def string(s):
    return u64(len(s)) + s.encode()


def strings(values):
    return u64(len(values)) + b"".join(string(s) for s in values)


def model_set(users=("u0", "u1"), items=("i0", "i1", "i2"), channels=None, ann=0, ranker=0):
    channels = channels or ["popularity", "trending", "item_knn", "recent_knn", "ials", "ease"]
    tags = [[0], [], [1]][:len(items)]
    return (header("RSMODELS") + strings(users) + strings(items) + strings(["a", "b"]) +
            u64(len(tags)) + b"".join(array(u32, t) for t in tags) + strings(channels) +
            u32(ann) + u32(ranker))


def popularity(n=3):
    return header("RSPOPUL") + array(f32, [float(n - i) for i in range(n)])


def trending(offsets=(0, 2, 3, 4), times=(100, 200, 150, 300)):
    return header("RSTREND") + i64(86400) + array(u64, offsets) + array(i64, times)


def knn(recent, n=3, offsets=(0, 1, 2, 2), neighbours=(1, 0), sims=(0.5, 0.5)):
    return (header("RSITEMNN") + u32(recent) + u32(n) + array(u64, offsets) +
            array(u32, neighbours) + array(f32, sims))


def ials(factors=2, users=2, items=3):
    return (header("RSIALS") + u32(factors) + u32(users) + u32(items) + f32(1.0) + f32(1.0) +
            array(f32, [0.1 * (k + 1) for k in range(users * factors)]) +
            array(f32, [0.2 * (k + 1) for k in range(items * factors)]))


def ease(n=3):
    return header("RSEASE") + u32(n) + array(f32, [0.0 if i % (n + 1) == 0 else 0.3
                                                    for i in range(n * n)])


def seen(offsets=(0, 1, 3), items=(0, 1, 2)):
    return header("RSSEEN") + array(u64, offsets) + array(u32, items)


def ann_header(dim=2, n=3):
    return header("RSANNHDR") + u32(dim) + u32(n) + u32(16)


def bundle(**overrides):
    files = {
        "popularity.bin": popularity(), "trending.bin": trending(), "item_knn.bin": knn(0),
        "recent_knn.bin": knn(1), "ials.bin": ials(), "ease.bin": ease(),
        "user_seen.bin": seen(),
    }
    first = overrides.pop("model_set.bin", model_set())
    files.update(overrides)
    out = first
    for name, data in files.items():
        if data is not None:
            out += b"\n=====" + name.encode() + b"=====\n" + data
    return out


SEEDS = {
    "valid": bundle(),
    "valid_without_ease_or_seen": bundle(**{
        "model_set.bin": model_set(channels=["popularity", "trending", "item_knn", "recent_knn",
                                             "ials"]),
        "ease.bin": None, "user_seen.bin": None}),
    "ease_fewer_items": bundle(**{"ease.bin": ease(2)}),
    "ease_more_items": bundle(**{"ease.bin": ease(4)}),
    "popularity_more_items": bundle(**{"popularity.bin": popularity(5)}),
    "trending_fewer_items": bundle(**{"trending.bin": trending((0, 2, 4), (100, 200, 150, 300))}),
    "knn_neighbour_out_of_range": bundle(**{"item_knn.bin": knn(0, neighbours=(1, 7))}),
    "knn_fewer_items": bundle(**{"recent_knn.bin": knn(1, 2, (0, 1, 2), (1, 0))}),
    "ials_fewer_users": bundle(**{"ials.bin": ials(users=1)}),
    "ials_truncated": bundle(**{"ials.bin": ials()[:-4]}),
    "seen_item_out_of_range": bundle(**{"user_seen.bin": seen(items=(0, 1, 9))}),
    "unknown_channel": bundle(**{"model_set.bin": model_set(channels=["popularity", "rp3beta"])}),
    "missing_channel_file": bundle(**{"trending.bin": None}),
    "ann_without_index": bundle(**{"model_set.bin": model_set(ann=1),
                                   "ann_header.bin": ann_header()}),
    "ranker_without_model": bundle(**{"model_set.bin": model_set(ranker=1)}),
    "truncated_model_set": model_set()[:30],
    "wrong_version": bundle(**{"ease.bin": header("RSEASE", 2) + u32(3)}),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")
