#!/usr/bin/env python3
"""birch serve's read path checked by an independent client: a few thousand minted certificates
and precertificates go in through add-chain and add-pre-chain, then everything a monitor reads
comes back out and is verified here with nothing from Birch (hashlib for SHA-256, the openssl
CLI for signatures): every get-sth signature, the root recomputed from all get-entries leaves,
every entry's leaf_input and extra_data well formed, inclusion proofs (get-proof-by-hash,
get-entry-and-proof) and consistency proofs (get-sth-consistency) by the RFC 9162 algorithms
for random sizes and for the earlier heads seen while the tree grew, the signed checkpoint,
the root rebuilt from the hash tiles as a tiles client does, the data tiles' TileLeafs against
the level-0 hashes and get-entries, the issuers by fingerprint; bad parameters get 400 with a
reason and the server keeps serving; and certspotter follows the log from the empty tree to the
end with no complaint. The verifier first proves itself on the RFC 6962 / C2SP vectors."""
import atexit, base64, hashlib, http.client, json, os, random, re, shutil, signal, socket
import subprocess, sys
import tempfile, threading, time, urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve_proc import ServeProc  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failed += 1


# ---- Merkle trees, RFC 6962 section 2.1 and RFC 9162 section 2.1, from the RFC text ------------


def sha256(b):
    return hashlib.sha256(b).digest()


EMPTY_ROOT = sha256(b"")


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """Leaf hashes and every complete subtree hash above them: MTH, PATH and PROOF of RFC 6962
    section 2.1 for any size up to the number of leaves, by the recursive definitions."""

    def __init__(self, leaf_hashes):
        self.levels = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            self.levels.append([node_hash(prev[2 * i], prev[2 * i + 1])
                                for i in range(len(prev) // 2)])

    def size(self):
        return len(self.levels[0])

    def mth(self, start, n):
        """MTH(D[start:start+n])."""
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:  # a complete subtree: memoised
            level = n.bit_length() - 1
            return self.levels[level][start >> level]
        k = split_point(n)
        return node_hash(self.mth(start, k), self.mth(start + k, n - k))

    def root(self, n):
        return self.mth(0, n)

    def path(self, m, n, start=0):
        """PATH(m, D[start:start+n])."""
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return self.path(m, k, start) + [self.mth(start + k, n - k)]
        return self.path(m - k, n - k, start + k) + [self.mth(start, k)]

    def proof(self, m, n):
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
        return self._subproof(m, n, 0, True)

    def _subproof(self, m, n, start, b):
        if m == n:
            return [] if b else [self.mth(start, n)]
        k = split_point(n)
        if m <= k:
            return self._subproof(m, k, start, b) + [self.mth(start + k, n - k)]
        return self._subproof(m - k, n - k, start + k, False) + [self.mth(start, k)]


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size or len(leaf) != 32 or len(root) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0 or len(p) != 32:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 section 2.1.4.2; an empty first tree is refused (it proves nothing), and
    first == second holds with an empty proof and equal roots."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if len(first_hash) != 32 or len(second_hash) != 32:
        return False
    if not path or any(len(p) != 32 for p in path):
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---- TLS structures (RFC 6962 section 3, static-ct-api TileLeaf) and a little DER ---------------


class Reader:
    """A cursor over TLS-encoded bytes; every read is bounds-checked (ValueError)."""

    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if n < 0 or self.o + n > len(self.b):
            raise ValueError("truncated at %d (+%d of %d)" % (self.o, n, len(self.b)))
        self.o += n
        return self.b[self.o - n:self.o]

    def uint(self, n):
        return int.from_bytes(self.take(n), "big")

    def vec(self, n):
        return self.take(self.uint(n))

    def done(self):
        return self.o == len(self.b)


def vec_items(b, n):
    """The items of a list of n-byte-length-prefixed opaque values."""
    r, out = Reader(b), []
    for _ in range(len(b) + 1):
        if r.done():
            return out
        out.append(r.vec(n))
    raise ValueError("list does not end")


def read_timestamped_entry(r):
    """TimestampedEntry: {timestamp, entry_type, cert | (issuer_key_hash, tbs), extensions}."""
    e = {"timestamp": r.uint(8), "entry_type": r.uint(2)}
    if e["entry_type"] == 0:
        e["cert"] = r.vec(3)
    elif e["entry_type"] == 1:
        e["issuer_key_hash"] = r.take(32)
        e["tbs"] = r.vec(3)
    else:
        raise ValueError("entry_type %d" % e["entry_type"])
    e["extensions"] = r.vec(2)
    return e


def parse_leaf_input(b):
    """MerkleTreeLeaf v1 of a timestamped_entry, nothing after it."""
    r = Reader(b)
    if r.uint(1) != 0 or r.uint(1) != 0:
        raise ValueError("not a v1 timestamped_entry leaf")
    e = read_timestamped_entry(r)
    if not r.done():
        raise ValueError("bytes after the TimestampedEntry")
    return e


def parse_extra_data(entry_type, b):
    """X509ChainEntry or PrecertChainEntry: (pre_certificate or None, [chain certs])."""
    r = Reader(b)
    pre = r.vec(3) if entry_type == 1 else None
    chain = vec_items(r.vec(3), 3)
    if not r.done():
        raise ValueError("bytes after the chain")
    return pre, chain


def leaf_index_ext(ext):
    """The static-ct-api leaf_index extension's value, or None when the extensions are not
    exactly that one extension."""
    if len(ext) != 8 or ext[0] != 0 or ext[1:3] != b"\x00\x05":
        return None
    return int.from_bytes(ext[3:], "big")


def parse_data_tile(b):
    """static-ct-api TileLeafs: [(TimestampedEntry bytes, entry, pre_certificate, [fps])]."""
    r, out = Reader(b), []
    for _ in range(257):
        if r.done():
            return out
        start = r.o
        e = read_timestamped_entry(r)
        te = r.b[start:r.o]
        pre = r.vec(3) if e["entry_type"] == 1 else None
        fps = r.vec(2)
        if len(fps) % 32:
            raise ValueError("fingerprint list not a multiple of 32 bytes")
        out.append((te, e, pre, [fps[i:i + 32] for i in range(0, len(fps), 32)]))
    raise ValueError("more than 256 TileLeafs")


def der_tlv(b, o):
    """(tag, content start, content end) of the DER TLV at b[o]; definite lengths only."""
    if o + 2 > len(b):
        raise ValueError("DER truncated")
    tag, l = b[o], b[o + 1]
    if l < 0x80:
        s, n = o + 2, l
    else:
        k = l & 0x7F
        if k == 0 or k > 4 or o + 2 + k > len(b):
            raise ValueError("DER length")
        s, n = o + 2 + k, int.from_bytes(b[o + 2:o + 2 + k], "big")
    if s + n > len(b):
        raise ValueError("DER content truncated")
    return tag, s, s + n


def der_children(b, s, e):
    """[(tag, tlv start, content start, content end)] of the TLVs in b[s:e]."""
    out = []
    o = s
    for _ in range(e - s + 1):
        if o == e:
            return out
        tag, cs, ce = der_tlv(b, o)
        if ce > e:
            raise ValueError("DER child overruns its parent")
        out.append((tag, o, cs, ce))
        o = ce
    raise ValueError("DER children do not end")


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_wrap(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


OID_POISON = bytes.fromhex("060a2b06010401d679020403")  # 1.3.6.1.4.1.11129.2.4.3
OID_EKU = bytes.fromhex("0603551d25")  # 2.5.29.37
OID_AKI = bytes.fromhex("0603551d23")  # 2.5.29.35
OID_PRECERT_SIGNING = bytes.fromhex("060a2b06010401d679020404")  # 1.3.6.1.4.1.11129.2.4.4


class Cert:
    """The parts of an X.509 certificate this test needs, by position in the TBS."""

    def __init__(self, der):
        tag, s, e = der_tlv(der, 0)
        if tag != 0x30 or e != len(der):
            raise ValueError("not one DER SEQUENCE")
        kids = der_children(der, s, e)
        if len(kids) != 3 or kids[0][0] != 0x30:
            raise ValueError("Certificate is not {tbs, algorithm, signature}")
        self.der = der
        self.tbs = der[kids[0][1]:kids[0][3]]
        f = der_children(self.tbs, *der_tlv(self.tbs, 0)[1:])
        self.fields = [self.tbs[k[1]:k[3]] for k in f]
        i = 1 if f[0][0] == 0xA0 else 0  # [0] version
        if len(f) < i + 6:
            raise ValueError("TBSCertificate too short")
        self.issuer, self.subject, self.spki = (self.fields[i + 2], self.fields[i + 4],
                                                self.fields[i + 5])
        self.extensions = []  # (oid TLV, whole Extension TLV)
        if f[-1][0] == 0xA3:
            t, s2, e2 = der_tlv(self.tbs, f[-1][2])
            for k in der_children(self.tbs, s2, e2):
                ext = self.tbs[k[1]:k[3]]
                oid_end = der_tlv(ext, k[2] - k[1])[2]
                self.extensions.append((ext[k[2] - k[1]:oid_end], ext))
        self.version_i = i

    def has_ext(self, oid):
        return any(o == oid for o, _ in self.extensions)

    def is_precert_signing(self):
        for o, ext in self.extensions:
            if o == OID_EKU and OID_PRECERT_SIGNING in ext:
                return True
        return False

    def tbs_for_log(self, psc=None):
        """RFC 6962 section 3.2: the TBS without the poison extension; when a Precertificate
        Signing Certificate signed it, with the PSC's issuer and authority key identifier (as
        certificate-transparency-go builds it)."""
        fields = list(self.fields)
        exts = [(o, e) for o, e in self.extensions if o != OID_POISON]
        if psc is not None:
            fields[self.version_i + 2] = psc.issuer
            aki = [e for o, e in psc.extensions if o == OID_AKI]
            if any(o == OID_AKI for o, _ in exts):
                exts = [(o, aki[0] if o == OID_AKI else e) for o, e in exts
                        if o != OID_AKI or aki]
            elif aki:
                exts.append((OID_AKI, aki[0]))
        exts = [e for _, e in exts]
        if self.extensions:
            fields[-1] = der_wrap(0xA3, der_wrap(0x30, b"".join(exts))) if exts else None
        return der_wrap(0x30, b"".join(f for f in fields if f is not None))


def expected_precert_entry(pre_der, chain):
    """(issuer_key_hash, TBS) of the PreCert that RFC 6962 section 3.2 logs for a precertificate
    and its chain: chain[0] is its issuer, or a Precertificate Signing Certificate whose issuer
    then stands in."""
    pre, c0 = Cert(pre_der), Cert(chain[0])
    if c0.is_precert_signing():
        return sha256(Cert(chain[1]).spki), pre.tbs_for_log(psc=c0)
    return sha256(c0.spki), pre.tbs_for_log()


# ---- signatures, with the openssl CLI -----------------------------------------------------------


def openssl_verify(pub_pem, data, sig_der, tmp):
    d, s = os.path.join(tmp, "sig.data"), os.path.join(tmp, "sig.der")
    with open(d, "wb") as f:
        f.write(data)
    with open(s, "wb") as f:
        f.write(sig_der)
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub_pem, "-signature", s, d],
                       capture_output=True, text=True, timeout=60)
    return p.returncode == 0 and "Verified OK" in p.stdout


def digitally_signed(b):
    """DigitallySigned: (hash algorithm, signature algorithm, signature), nothing after it."""
    r = Reader(b)
    h, s, sig = r.uint(1), r.uint(1), r.vec(2)
    if not r.done():
        raise ValueError("bytes after the DigitallySigned")
    return h, s, sig


def tree_head_input(timestamp, size, root):
    """The TreeHeadSignature input of RFC 6962 section 3.5: v1, tree_hash, 50 bytes."""
    return b"\x00\x01" + timestamp.to_bytes(8, "big") + size.to_bytes(8, "big") + root


def pem_to_der(text, label):
    m = re.search(r"-----BEGIN %s-----(.*?)-----END %s-----" % (label, label), text, re.S)
    return base64.b64decode("".join(m.group(1).split())) if m else None


# ---- signed notes and tiles (C2SP signed-note, tlog-checkpoint, tlog-tiles, static-ct-api) ----


def parse_checkpoint(text):
    """(origin, size, root, [(name, signature bytes)]) of a checkpoint note; ValueError if it is
    not one (the body is origin, size, root and no extension line here)."""
    if not text.endswith("\n") or "\n\n" not in text:
        raise ValueError("no blank line or no final newline")
    body, sigs = text.split("\n\n", 1)
    lines = body.split("\n")
    if len(lines) != 3:
        raise ValueError("body is %d lines, not origin/size/root" % len(lines))
    origin, size, root = lines
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
        raise ValueError("origin or size")
    root = base64.b64decode(root, validate=True)
    if len(root) != 32:
        raise ValueError("root is not 32 bytes")
    out = []
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch("\u2014 (\\S+) ([A-Za-z0-9+/=]+)", line)
        if not m:
            raise ValueError("bad signature line %r" % line)
        out.append((m.group(1), base64.b64decode(m.group(2), validate=True)))
    if not out:
        raise ValueError("no signature")
    return origin, int(size), root, out


def rfc6962_note_key_id(origin, spki):
    """static-ct-api RFC6962NoteSignature: SHA-256(name || 0x0A || 0x05 || LogID)[:4], the
    LogID being SHA-256 of the SPKI."""
    return sha256(origin.encode() + b"\n\x05" + sha256(spki))[:4]


def verify_note_sig(origin, size, root, sig, spki, pub_pem, tmp):
    """An RFC6962NoteSignature: key ID, uint64 timestamp, DigitallySigned of the tree head.
    Returns (ok, timestamp)."""
    if len(sig) < 12 or sig[:4] != rfc6962_note_key_id(origin, spki):
        return False, None
    ts = int.from_bytes(sig[4:12], "big")
    try:
        h, a, der = digitally_signed(sig[12:])
    except ValueError:
        return False, ts
    return h == 4 and openssl_verify(pub_pem, tree_head_input(ts, size, root), der, tmp), ts


def tile_index_path(n):
    """N as x001/x234/067."""
    s = "%03d" % (n % 1000)
    n //= 1000
    for _ in range(8):
        if not n:
            break
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return s


def tile_paths(size, level_max=5):
    """[(level, index, width, path)] of the hash tiles a client needs for a tree of `size`:
    per level L, the full tiles of the level-8L node hashes and one partial tile."""
    out = []
    for level in range(level_max + 1):
        nodes = size >> (8 * level)
        if nodes == 0:
            break
        for n in range(nodes // 256):
            out.append((level, n, 256, "tile/%d/%s" % (level, tile_index_path(n))))
        if nodes % 256:
            n = nodes // 256
            out.append((level, n, nodes % 256,
                        "tile/%d/%s.p/%d" % (level, tile_index_path(n), nodes % 256)))
    return out


def perfect_root(hashes):
    """MTH of a power-of-two list of subtree hashes at one level."""
    hs = list(hashes)
    for _ in range(64):
        if len(hs) == 1:
            return hs[0]
        hs = [node_hash(hs[2 * i], hs[2 * i + 1]) for i in range(len(hs) // 2)]
    raise ValueError("not a power of two")


def root_from_tiles(size, tiles):
    """The root of a `size` tree from hash tiles {(level, index): bytes}, as a tiles client
    computes it: each complete subtree of the size's binary decomposition, of height h, is the
    MTH of 2^(h mod 8) consecutive hashes of tile level h div 8; then fold them right to left."""
    if size == 0:
        return EMPTY_ROOT
    parts, start = [], 0
    for h in range(63, -1, -1):
        if not size >> h & 1:
            continue
        level, sub = h // 8, h % 8
        first = start >> (8 * level)  # index of the first level-8L node of this subtree
        hs = []
        for j in range(first, first + (1 << sub)):
            t = tiles[(level, j // 256)]
            hs.append(t[(j % 256) * 32:(j % 256) * 32 + 32])
        parts.append(perfect_root(hs))
        start += 1 << h
    r = parts[-1]
    for p in reversed(parts[:-1]):
        r = node_hash(p, r)
    return r


# ---- the verifier proves itself on the vectors first ---------------------------------------------


def self_check(vectors, tmp):
    mk = os.path.join(vectors, "merkle")
    d = json.load(open(os.path.join(mk, "rfc6962_8leaf.json")))
    leaves = [leaf_hash(bytes.fromhex(x)) for x in d["leaf_inputs_hex"]]
    check([h.hex() for h in leaves] == d["leaf_hashes"], "vectors: RFC 6962 leaf hashes")
    t = Tree(leaves)
    check(all(t.root(int(n)).hex() == r for n, r in d["roots"].items()),
          "vectors: MTH of sizes 0..8")
    bad = 0
    for p in d["inclusion_proofs"]:
        path = [bytes.fromhex(x) for x in p["audit_path"]]
        i, n, root = p["leaf_index"], p["tree_size"], bytes.fromhex(p["root"])
        if t.path(i, n) != path or not verify_inclusion(i, n, leaves[i], path, root):
            bad += 1
        if path and verify_inclusion(i, n, leaves[i], path[:-1], root):  # truncated
            bad += 1
        if verify_inclusion(i, n, leaves[(i + 1) % 8], path, root) and leaves[(i + 1) % 8] != \
                leaves[i]:
            bad += 1
    check(bad == 0, "vectors: all %d inclusion proofs generate, verify, and fail when altered" %
          len(d["inclusion_proofs"]))
    bad = 0
    for p in d["consistency_proofs"]:
        path = [bytes.fromhex(x) for x in p["consistency"]]
        m, n = p["first"], p["second"]
        r1, r2 = bytes.fromhex(p["first_root"]), bytes.fromhex(p["second_root"])
        if t.proof(m, n) != path or not verify_consistency(m, n, r1, r2, path):
            bad += 1
        if path and verify_consistency(m, n, r1, r2, path[:-1]):
            bad += 1
        if m < n and verify_consistency(m, n, r2, r1, path):
            bad += 1
    check(bad == 0, "vectors: all %d consistency proofs generate, verify, and fail when altered" %
          len(d["consistency_proofs"]))

    # transparency-dev/merkle probes, happy paths and every mutation
    td = os.path.join(mk, "transparency-dev-merkle", "testdata")
    n_ok = n_all = 0
    wrong = []
    for kind in ("inclusion", "consistency"):
        for dirpath, _, files in sorted(os.walk(os.path.join(td, kind))):
            for fn in sorted(files):
                p = json.load(open(os.path.join(dirpath, fn)))
                b = lambda x: base64.b64decode(x or "")
                proof = [b(x) for x in (p.get("proof") or [])]
                if kind == "inclusion":
                    got = verify_inclusion(p["leafIdx"], p["treeSize"], b(p["leafHash"]), proof,
                                           b(p["root"]))
                else:
                    got = verify_consistency(p["size1"], p["size2"], b(p["root1"]),
                                             b(p["root2"]), proof)
                n_all += 1
                if got != (not p["wantErr"]):
                    wrong.append(os.path.relpath(os.path.join(dirpath, fn), td))
                else:
                    n_ok += 1
    check(n_all > 150 and not wrong, "vectors: %d/%d transparency-dev/merkle probes agree %s" %
          (n_ok, n_all, wrong[:5]))

    # tiles: tile paths, the navigli2025h2 data tiles against its level-0 tiles, roots from tiles
    tp = json.load(open(os.path.join(vectors, "static-ct", "tile_paths.json")))
    ok = tile_index_path(1234067) == "x001/x234/067"
    for size, want in tp["tile_sets_for_sizes"].items():
        ok = ok and [p[3] for p in tile_paths(int(size))] == want
    check(ok, "vectors: tile paths and tile sets for %s" % sorted(tp["tile_sets_for_sizes"]))
    nv = os.path.join(vectors, "static-ct", "sunlight-navigli2025h2", "tile")
    ver = json.load(open(os.path.join(vectors, "static-ct", "VERIFIED_STATIC_CT_AND_TLOG.json")))
    nav = ver["navigli2025h2_tiles"]
    hashes, ok = {}, True
    for n in range(4):
        t0 = open(os.path.join(nv, "0", "%03d" % n), "rb").read()
        hashes[(0, n)] = t0
        leaves_n = parse_data_tile(open(os.path.join(nv, "data", "%03d" % n), "rb").read())
        ok = ok and len(leaves_n) == 256 and len(t0) == 256 * 32
        for j, (te, e, pre, fps) in enumerate(leaves_n):
            ok = ok and leaf_hash(b"\x00\x00" + te) == t0[32 * j:32 * j + 32]
            ok = ok and leaf_index_ext(e["extensions"]) == 256 * n + j
            ok = ok and Cert(pre).tbs_for_log() == e["tbs"]
    check(ok, "vectors: navigli2025h2 TileLeafs hash to the level-0 tiles, leaf_index = position,"
              " TBS = precert minus poison")
    lvl1 = b"".join(perfect_root([hashes[(0, n)][32 * j:32 * j + 32] for j in range(256)])
                    for n in range(4))
    check(lvl1.hex() == "".join(nav["level1_tile_entries_would_be"]),
          "vectors: level-1 hashes from the level-0 tiles")
    hashes[(1, 0)] = lvl1
    for size in (1, 256, 778, 1024):
        check(root_from_tiles(size, hashes).hex() == nav["root_at_tree_size_%d" % size],
              "vectors: root of size %d from tiles" % size)

    # a real checkpoint's RFC6962NoteSignature, key ID and signed data
    rome = ver["rome2024h1_checkpoint"]
    spki = base64.b64decode(rome["public_key_spki_b64"])
    pub = os.path.join(tmp, "rome.pub.pem")
    with open(pub, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" %
                rome["public_key_spki_b64"])
    text = open(os.path.join(vectors, "static-ct", "checkpoints", "rome2024h1.checkpoint"),
                encoding="utf-8").read()
    origin, size, root, sigs = parse_checkpoint(text)
    good, ts = verify_note_sig(origin, size, root, sigs[0][1], spki, pub, tmp)
    check(origin == rome["origin"] and size == rome["tree_size"] and good and
          ts == rome["sigs"][0]["timestamp_ms"], "vectors: rome2024h1 checkpoint verifies")
    check(not verify_note_sig(origin, size + 1, root, sigs[0][1], spki, pub, tmp)[0],
          "vectors: and not for another size")
    # an STH signature
    sth = ver["argon2024_get_sth"]
    with open(pub, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" %
                sth["public_key_spki_b64"])
    j = sth["get_sth_json"]
    h, a, der = digitally_signed(base64.b64decode(j["tree_head_signature"]))
    check(openssl_verify(pub, tree_head_input(j["timestamp"], j["tree_size"],
                                              base64.b64decode(j["sha256_root_hash"])), der, tmp),
          "vectors: argon2024 get-sth signature verifies")
    # entries: the Argon2018 x509 and precert entries parse, issuer_key_hash is the SPKI's hash
    cg = json.load(open(os.path.join(vectors, "certs", "certificate-transparency-go",
                                     "argon2018_entries_1_2.json")))
    ok = True
    for ent in cg["entries"]:
        e = parse_leaf_input(bytes.fromhex(ent["leaf_input_hex"]))
        pre, chain = parse_extra_data(e["entry_type"], bytes.fromhex(ent["extra_data_hex"]))
        if e["entry_type"] == 1:
            ok = ok and sha256(Cert(chain[0]).spki) == e["issuer_key_hash"]
            ok = ok and Cert(pre).tbs_for_log() == e["tbs"]
        else:
            ok = ok and Cert(e["cert"]).issuer == Cert(chain[0]).subject
    check(ok, "vectors: Argon2018 entries parse (leaf_input, extra_data, issuer_key_hash, TBS)")
    # precertificates from the C++ set, also signed by Precertificate Signing Certificates
    cpp = os.path.join(vectors, "certs", "google-certificate-transparency-cpp")
    cases = json.load(open(os.path.join(cpp, "VERIFIED_SCTS.json")))["cases"]
    der = lambda n: pem_to_der(open(os.path.join(cpp, n)).read(), "CERTIFICATE")
    n = bad = 0
    for c in cases:
        if c["entry_type"] != "precert_entry":
            continue
        chain = ([der(c["precert_signed_by_psc"])] if c.get("precert_signed_by_psc") else
                 []) + [der(c["final_issuer"])]
        ikh, tbs = expected_precert_entry(der(c["precert"]), chain)
        n += 1
        if ikh.hex() != c["issuer_key_hash_hex"] or sha256(tbs).hex() != c["defanged_tbs_sha256"]:
            bad += 1
    check(n == 5 and bad == 0, "vectors: issuer_key_hash and TBS of %d C++ precerts (PSC too)" % n)



# ---- raw HTTP/1.1 on one socket: the gateway's own answers to data tiles (net/h1f.h) ----------


def raw_exchange(port, parts, pause=0.2, timeout=10.0):
    """Sends parts (bytes each, with a pause between) on a new connection; returns every byte
    the server sent until it closed the connection, or until timeout, and whether it closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        for i, p in enumerate(parts):
            if i:
                time.sleep(pause)
            s.sendall(p)
        got, closed, until = b"", False, time.time() + timeout
        s.settimeout(0.5)
        while time.time() < until:
            try:
                b = s.recv(1 << 20)
            except socket.timeout:
                if got:
                    break
                continue
            if not b:
                closed = True
                break
            got += b
        return got, closed
    finally:
        s.close()


def split_responses(b, no_body=()):
    """[(status, {lower-case header: value}, body)] of HTTP/1.1 answers with Content-Length;
    the answers numbered in no_body (to HEAD) have none."""
    out = []
    for _ in range(100):
        if not b:
            break
        head, sep, rest = b.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("an answer without the end of its head")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hd = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hd[k.strip().lower()] = v.strip()
        n = 0 if len(out) in no_body else int(hd.get("content-length", "-1"))
        if n < 0 or len(rest) < n:
            raise ValueError("a body shorter than its Content-Length")
        out.append((status, hd, rest[:n]))
        b = rest[n:]
    return out


def data_tile_count(cl):
    """birch_http_requests_total for data-tile 2xx answers, from /metrics."""
    st, hd, body = cl.get("/metrics")
    m = re.search(rb'birch_http_requests_total\{endpoint="data-tile",code="2xx"\} (\d+)', body)
    return int(m.group(1)) if st == 200 and m else -1


def check_data_tiles_before_h2o(port, cl, dtiles):
    """Full data tiles are answered by the gateway itself (sendfile) while a connection asks
    only for them; anything else hands the connection to h2o with its unread bytes. Both must
    give the same answers, in order."""
    full = sorted(n for n, b in dtiles.items() if parse_data_tile(b) and
                  len(parse_data_tile(b)) == 256)
    if len(full) < 2:
        check(False, "two full data tiles to test the gateway's own answers with")
        return
    a, b = full[0], full[1]
    pa, pb = "/tile/data/" + tile_index_path(a), "/tile/data/" + tile_index_path(b)

    def get(path, extra=b"", version=b"HTTP/1.1"):
        return b"GET " + path.encode() + b" " + version + b"\r\nHost: x\r\n" + extra + b"\r\n"

    before = data_tile_count(cl)
    fast, _ = raw_exchange(port, [get(pa, b"Connection: close\r\n")])
    slow, _ = raw_exchange(port, [get(pa, version=b"HTTP/1.0")])
    try:
        (fs, fh, fb), = split_responses(fast)
        (ss, sh, sb), = split_responses(slow)
        same = fs == ss == 200 and fb == sb == dtiles[a] and all(
            fh.get(k) == sh.get(k) for k in ("content-type", "cache-control", "content-length"))
        why = "%s / %s" % ({k: fh.get(k) for k in ("content-type", "cache-control")},
                           {k: sh.get(k) for k in ("content-type", "cache-control")})
    except ValueError as x:
        same, why = False, str(x)
    check(same and fh.get("cache-control") == "public, max-age=31536000, immutable" and
          fh.get("connection") == "close",
          "a full data tile answered by the gateway itself is h2o's answer byte for byte "
          "(status, Content-Type, Cache-Control, Content-Length, body) %s" % why)

    cases = [
        ("three data tiles pipelined in one write, the last with Connection: close",
         [get(pa) + get(pb) + get(pa, b"Connection: close\r\n")],
         [dtiles[a], dtiles[b], dtiles[a]]),
        ("a data tile, then /checkpoint (h2o takes the connection), then a data tile, "
         "pipelined", [get(pa) + get("/checkpoint") + get(pb, b"Connection: close\r\n")],
         [dtiles[a], None, dtiles[b]]),
        ("a request split across two writes 200 ms apart",
         [get(pa, b"Connection: close\r\n")[:20], get(pa, b"Connection: close\r\n")[20:]],
         [dtiles[a]]),
        ("HEAD of a data tile, then GET on the same connection",
         [get(pa).replace(b"GET", b"HEAD", 1) + get(pa, b"Connection: close\r\n")],
         [b"", dtiles[a]]),
    ]
    for what, parts, want in cases:
        got, closed = raw_exchange(port, parts)
        try:
            rs = split_responses(got, (0,) if parts[0].startswith(b"HEAD") else ())
            if len(rs) != len(want):
                raise ValueError("%d answers, not %d" % (len(rs), len(want)))
            for i, ((st, hd, body), w) in enumerate(zip(rs, want)):
                if st != 200 or (w is not None and body != w):
                    raise ValueError("answer %d: %d, %d bytes" % (i, st, len(body)))
            ok, why = closed, "" if closed else "the connection stayed open"
        except ValueError as x:
            ok, why = False, str(x)
        check(ok, "%s: every answer right and in order, then closed %s" % (what, why))

    got, closed = raw_exchange(port, [get(pa) + b"NONSENSE\r\n\r\n"])
    try:
        rs = split_responses(got)
        ok = [r[0] for r in rs] == [200, 400] and rs[0][2] == dtiles[a] and closed
    except ValueError:
        ok = False
    check(ok and cl.get(pa)[0] == 200, "a malformed request after a data tile gets h2o's 400 "
          "and the connection closes; the server keeps serving")
    after = data_tile_count(cl)
    # 2 + 3 + 2 + 1 + 2 + 1 above, and the last cl.get: 6 of them the gateway's own
    check(before >= 0 and after - before == 12, "/metrics counts the data tiles the gateway "
          "answered itself (%d -> %d)" % (before, after))


# ---- the server and a client ---------------------------------------------------------------------


class Server(ServeProc):
    """birch serve on 127.0.0.1, an ephemeral port read from its 'listening on' line."""

    def __init__(self, birch, args):
        super().__init__(birch, args, stdout=subprocess.DEVNULL)


class Client:
    """One keep-alive connection, opened again after an error or a close; gzip undone."""

    def __init__(self, port):
        self.port, self.c = port, None

    def req(self, method, path, body=None):
        err = None
        for _ in range(3):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.c.request(method, path, body=body)
                r = self.c.getresponse()
                data = r.read()
                hd = {k.lower(): v for k, v in r.getheaders()}
                if r.will_close:
                    self.c.close()
                    self.c = None
                if hd.get("content-encoding") == "gzip":
                    import gzip
                    data = gzip.decompress(data)
                return r.status, hd, data
            except (http.client.HTTPException, OSError) as e:
                self.c.close()
                self.c, err = None, e
        return -1, {}, str(err).encode()

    def get(self, path):
        return self.req("GET", path)

    def json(self, path):
        """(status, headers, the JSON object or None)."""
        st, hd, b = self.get(path)
        try:
            j = json.loads(b) if st == 200 else None
        except ValueError:
            j = None
        return st, hd, (j if isinstance(j, dict) else None)


def b64(s):
    if not isinstance(s, str):
        raise ValueError("not a string")
    return base64.b64decode(s, validate=True)


def b64s(b):
    return base64.b64encode(b).decode()


def q(s):
    return urllib.parse.quote(s, safe="")


def is_uint(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


class STH:
    def __init__(self, j):
        if set(j) != {"tree_size", "timestamp", "sha256_root_hash", "tree_head_signature"}:
            raise ValueError("members %s" % sorted(j))
        if not is_uint(j["tree_size"]) or not is_uint(j["timestamp"]):
            raise ValueError("tree_size or timestamp not a non-negative integer")
        self.size, self.ts = j["tree_size"], j["timestamp"]
        self.root = b64(j["sha256_root_hash"])
        self.sig = b64(j["tree_head_signature"])
        if len(self.root) != 32:
            raise ValueError("root is %d bytes" % len(self.root))
        self.key = (self.size, self.ts, self.root, self.sig)

    def __repr__(self):
        return "STH(%d, %d, %s)" % (self.size, self.ts, self.root.hex()[:16])


def sth_sig_ok(sth, pub_pem, tmp):
    try:
        h, a, der = digitally_signed(sth.sig)
    except ValueError:
        return False
    return h == 4 and openssl_verify(pub_pem, tree_head_input(sth.ts, sth.size, sth.root), der,
                                     tmp)


def sth_size(j):
    try:
        return STH(j).size
    except (ValueError, TypeError):
        return None


def one_line_reason(body):
    t = body.decode(errors="replace").strip()
    return 0 < len(t) <= 300 and "\n" not in t, t


# ---- certspotter ---------------------------------------------------------------------------------

CERTSPOTTER_BENIGN = [r"fetched \d+ logs from ", r"starting task for log ", r"brand new log ",
                      r"downloading entries from .* in range \[\d+, \d+\)",
                      r"finished downloading entries from ", r"saving state in defer for ",
                      r"task for log .* stopped with error context canceled"]


def certspotter_pass(exe, loglist, state_dir, config_dir, watchlist, want_size, timeout=120):
    """Runs certspotter until its state for the one log says it verified `want_size` (for an
    empty log: until it saved a state at 0), then SIGTERM. Returns (exit status, stdout,
    stderr, state JSON or None, seconds)."""
    env = dict(os.environ, CERTSPOTTER_CONFIG_DIR=config_dir, CERTSPOTTER_STATE_DIR=state_dir,
               HOME=config_dir)
    out, err = open(os.path.join(config_dir, "out"), "w+"), open(os.path.join(config_dir, "err"),
                                                                 "w+")
    t0 = time.time()
    p = subprocess.Popen([exe, "-logs", loglist, "-state_dir", state_dir, "-watchlist",
                          watchlist, "-no_save", "-stdout", "-verbose"], stdout=out, stderr=err,
                         env=env)
    state = None
    while time.time() - t0 < timeout and p.poll() is None:
        time.sleep(0.2)
        for sf in sorted(glob_state(state_dir)):
            try:
                state = json.load(open(sf))
            except (OSError, ValueError):
                continue
        if state and state.get("last_success") and state["verified_position"]["size"] == \
                want_size:
            break
    took = time.time() - t0
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    for sf in sorted(glob_state(state_dir)):  # the state it saved on the way out
        try:
            state = json.load(open(sf))
        except (OSError, ValueError):
            pass
    out.seek(0)
    err.seek(0)
    return rc, out.read(), err.read(), state, took


def glob_state(state_dir):
    logs = os.path.join(state_dir, "logs")
    if not os.path.isdir(logs):
        return []
    return [os.path.join(logs, d, "state.json") for d in os.listdir(logs)
            if os.path.exists(os.path.join(logs, d, "state.json"))]


def collapsed_root(nodes):
    """The root of a certspotter collapsed tree: its subtree hashes folded right to left."""
    if not nodes:
        return EMPTY_ROOT
    r = nodes[-1]
    for h in reversed(nodes[:-1]):
        r = node_hash(h, r)
    return r


# ---- the test ------------------------------------------------------------------------------------


def main():
    birch = os.environ["BIRCH_BIN"]
    vectors = os.environ.get("BIRCH_VECTORS", "")
    if not vectors or not os.path.isdir(vectors):
        print("skip: BIRCH_VECTORS is not set")
        return 77
    if os.geteuid() != 0:
        print("skip: the DPDK EAL without hugepages needs root")
        return 77
    tmp = tempfile.mkdtemp(prefix="birch-read-")
    seed = int(os.environ.get("BIRCH_READ_SEED", "0")) or random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    print("seed %d (BIRCH_READ_SEED=%d repeats this run), files in %s" % (seed, seed, tmp))

    self_check(vectors, tmp)

    def run(*args, timeout=300):
        p = subprocess.run([birch, *args], capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    key = os.path.join(tmp, "log.pem")
    rc, _, err = run("keygen", "--out", key)
    if rc != 0:
        raise SystemExit("keygen: " + err)
    pub = os.path.join(tmp, "log.pub.pem")
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    spki = pem_to_der(open(pub).read(), "PUBLIC KEY")
    log_id = sha256(spki)
    ca = os.path.join(tmp, "ca")
    rc, _, err = run("load", "ca", "--out", ca)
    if rc != 0:
        raise SystemExit("load ca: " + err)
    root_der = pem_to_der(open(os.path.join(ca, "roots.pem")).read(), "CERTIFICATE")
    origin = "read.birch.test/log"
    s = Server(birch, ["--data", os.path.join(tmp, "data"), "--key", key, "--roots",
                       os.path.join(ca, "roots.pem"), "--workers", "2", "--origin", origin])
    atexit.register(lambda: s.p.poll() is None and s.p.kill())  # also when an exception ends it
    cl = Client(s.port)
    base = "http://127.0.0.1:%d" % s.port

    # certspotter's log list: the Chrome v3 schema, one operator with our one log
    cs_exe = shutil.which("certspotter")
    cs_dir = os.path.join(tmp, "certspotter")
    os.makedirs(os.path.join(cs_dir, "config"))
    loglist = os.path.join(cs_dir, "loglist.json")
    with open(loglist, "w") as f:
        json.dump({"version": "1.0", "log_list_timestamp": "2026-01-01T00:00:00Z",
                   "operators": [{"name": "Birch test", "email": ["test@read.birch.test"],
                                  "logs": [{"description": "birch serve under tests/test_read.py",
                                            "log_id": b64s(log_id), "key": b64s(spki),
                                            "url": base + "/", "mmd": 86400,
                                            "state": {"usable": {
                                                "timestamp": "2026-01-01T00:00:00Z"}}}]}]},
                  f, indent=1)
    watchlist = os.path.join(cs_dir, "watchlist")
    with open(watchlist, "w") as f:
        f.write(".load.birch.test\n")  # tools/load_mint.c: <16 hex>.load.birch.test, CN and SAN
    cs_state = os.path.join(cs_dir, "state")
    cs_runs = []

    def certspotter(want):
        if not cs_exe:
            return
        r = certspotter_pass(cs_exe, loglist, cs_state, os.path.join(cs_dir, "config"),
                             watchlist, want)
        cs_runs.append((want, r))
        rc, out, err, state, took = r
        got = state["verified_position"]["size"] if state else None
        check(rc == 0 and got == want, "certspotter: a pass to tree size %d (exit %s, verified %s"
              ", %.1f s)" % (want, rc, got, took))

    # ---- the empty log ----------------------------------------------------------------------
    st, _, j = cl.json("/ct/v1/get-sth")
    try:
        sth0 = STH(j)
        ok = sth0.size == 0 and sth0.root == EMPTY_ROOT and sth_sig_ok(sth0, pub, tmp)
    except (ValueError, TypeError) as e:
        ok, sth0 = False, str(e)
    check(st == 200 and ok, "the empty log's get-sth: size 0, SHA-256 of nothing, signed (%s)" %
          (sth0,))
    st, hd, body = cl.get("/checkpoint")
    try:
        o, n, r, sigs = parse_checkpoint(body.decode())
        ok = o == origin and n == 0 and r == EMPTY_ROOT and any(
            verify_note_sig(o, n, r, sg, spki, pub, tmp)[0] for name, sg in sigs if name == o)
    except (ValueError, UnicodeDecodeError):
        ok = False
    check(st == 200 and ok, "the empty log's checkpoint: size 0, signed (%d %r)" %
          (st, body[:120]))
    st, hd, body = cl.get("/tile/0/000.p/1")
    check(st == 404, "the empty log serves no tile (%d)" % st)
    if cs_exe:
        certspotter(0)
    else:
        check(False, "certspotter is not installed (tools/setup.sh installs it)")

    # ---- fill the log in batches, watching get-sth meanwhile -------------------------------------
    seen, stop = [], threading.Event()

    def watch():
        w = Client(s.port)
        for _ in range(100000):
            if stop.is_set():
                return
            st, _, j = w.json("/ct/v1/get-sth")
            seen.append((time.time(), st, j))
            time.sleep(0.05)
    live = {"heads": 0, "bad": [], "ahead": []}

    def read_while_growing():
        """For each new head: an entry and its proof at that size, a consistency proof from the
        head before, both verified against the heads' roots while the writer goes on; and no
        entry past the head unless a newer head came meanwhile."""
        r, prev, lrng = Client(s.port), None, random.Random(seed + 1)
        for _ in range(100000):
            if stop.is_set():
                return
            st, _, j = r.json("/ct/v1/get-sth")
            x = None
            try:
                x = STH(j)
            except (ValueError, TypeError):
                pass
            if x and x.size > 0 and (prev is None or x.key != prev.key):
                live["heads"] += 1
                i = lrng.randrange(x.size)
                st, _, e = r.json("/ct/v1/get-entry-and-proof?leaf_index=%d&tree_size=%d" %
                                  (i, x.size))
                try:
                    ok = verify_inclusion(i, x.size, leaf_hash(b64(e["leaf_input"])),
                                          [b64(p) for p in e["audit_path"]], x.root)
                except (ValueError, TypeError, KeyError):
                    ok = False
                if not ok:
                    live["bad"].append("entry %d at size %d: %d %s" % (i, x.size, st, e))
                if prev and 0 < prev.size < x.size:
                    st, _, c = r.json("/ct/v1/get-sth-consistency?first=%d&second=%d" %
                                      (prev.size, x.size))
                    try:
                        ok = verify_consistency(prev.size, x.size, prev.root, x.root,
                                                [b64(p) for p in c["consistency"]])
                    except (ValueError, TypeError, KeyError):
                        ok = False
                    if not ok:
                        live["bad"].append("%d -> %d: %d %s" % (prev.size, x.size, st, c))
            if x:
                st, _, e = r.json("/ct/v1/get-entries?start=%d&end=%d" % (x.size, x.size + 50))
                st2, _, j2 = r.json("/ct/v1/get-sth")
                k = len(e.get("entries") or []) if st == 200 and e else 0
                if k and k > (sth_size(j2) or 0) - x.size:
                    live["ahead"].append("%d entries past head %d, the next head %s" %
                                         (k, x.size, sth_size(j2)))
                prev = x
            time.sleep(0.01)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    reader = threading.Thread(target=read_while_growing, daemon=True)
    reader.start()
    # 5100: long enough for heads signed part way; 40: the last partial tile grows, not full
    batches = [700, 1300, 900, 5100, 40]
    total = 0

    also_seen = []  # heads wait_size() saw: signed, but not in the watcher's order

    def wait_size(n, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            st, _, j = cl.json("/ct/v1/get-sth")
            also_seen.append(j)
            if st == 200 and j and j.get("tree_size") == n:
                return True
            time.sleep(0.2)
        return False
    for bi, n in enumerate(batches):
        rc, out, err = run("load", "run", "--url", base, "--ca", ca, "--log-key", key,
                           "--requests", str(n), "--concurrency", "64", "--precerts", "50",
                           "--seed", str(seed + bi), timeout=300)
        check(rc == 0, "load run: %d submissions, every one got a verified SCT (%s)" %
              (n, (out + err).strip().splitlines()[-1:] if rc else "ok"))
        total += n
        check(wait_size(total), "get-sth reaches tree size %d" % total)
        if bi == 1 and cs_exe:
            certspotter(total)  # a pass part way
    stop.set()
    watcher.join(timeout=30)
    reader.join(timeout=30)
    N = total
    check(live["heads"] >= 3 and not live["bad"], "while the tree grew: for %d heads an entry's "
          "audit path and the consistency proof from the head before verified %s" %
          (live["heads"], live["bad"][:3]))
    check(not live["ahead"], "while the tree grew: get-entries never served past the latest "
          "head %s" % live["ahead"][:3])

    # ---- every get-sth seen: well formed, signed, never going back -------------------------------
    sths, bad, prev = {}, [], None
    for t, st, j in seen:
        try:
            if st != 200 or j is None:
                raise ValueError("status %d" % st)
            x = STH(j)
        except (ValueError, TypeError) as e:
            bad.append(str(e))
            continue
        if prev and (x.size < prev.size or x.ts < prev.ts or
                     (x.size == prev.size and x.root != prev.root)):
            bad.append("%r after %r" % (x, prev))
        prev = x
        sths[x.key] = x
    check(len(seen) > 20 and not bad, "%d get-sth answers while the tree grew: well formed, sizes "
          "and timestamps never go back, one root per size %s" % (len(seen), bad[:3]))
    for j in also_seen:
        try:
            x = STH(j)
            sths[x.key] = x
        except (ValueError, TypeError):
            pass
    bad = [x for x in sths.values() if not sth_sig_ok(x, pub, tmp)]
    check(not bad, "all %d distinct signed heads verify with the log key (openssl) %s" %
          (len(sths), bad[:3]))
    sizes_seen = sorted({x.size for x in sths.values()})
    check(len([n for n in sizes_seen if 0 < n < N]) >= 3,
          "several heads were seen part way: sizes %s" % sizes_seen)
    print("info %d heads seen in the middle of a load run" %
          len(set(sizes_seen) - {0} - {sum(batches[:k + 1]) for k in range(len(batches))}))
    st, _, j = cl.json("/ct/v1/get-sth")
    final = STH(j)
    check(final.size == N and sth_sig_ok(final, pub, tmp), "the final head: size %d, signed" % N)
    now_ms = int(time.time() * 1000)
    check(final.ts <= now_ms + 1000, "its timestamp is not in the future (%d vs %d)" %
          (final.ts, now_ms))

    # ---- get-entries over the whole tree ----------------------------------------------------
    entries, start, pages, page_bad = [], 0, 0, []
    for _ in range(N + 2):
        if start >= N:
            break
        st, _, j = cl.json("/ct/v1/get-entries?start=%d&end=%d" % (start, N - 1))
        got = j.get("entries") if j else None
        if st != 200 or not isinstance(got, list) or not 0 < len(got) <= min(1000, N - start):
            page_bad.append("start %d: %d, %s" % (start, st, None if got is None else len(got)))
            break
        entries += got
        start += len(got)
        pages += 1
    check(len(entries) == N and not page_bad, "get-entries: all %d entries in %d pages of at most"
          " 1000 %s" % (N, pages, page_bad))
    leaves, shape_bad, parse_bad, chain_bad, kinds = [], [], [], [], [0, 0]
    parsed = []
    t_lo = int(time.time() * 1000) - 3600 * 1000
    for i, e in enumerate(entries):
        try:
            if not isinstance(e, dict) or set(e) != {"leaf_input", "extra_data"}:
                raise ValueError("members %s" % (sorted(e) if isinstance(e, dict) else e))
            li, ed = b64(e["leaf_input"]), b64(e["extra_data"])
        except (ValueError, TypeError) as x:
            shape_bad.append("%d: %s" % (i, x))
            leaves.append(b"")
            parsed.append(None)
            continue
        leaves.append(leaf_hash(li))
        parsed.append(None)
        try:
            ent = parse_leaf_input(li)
            pre, chain = parse_extra_data(ent["entry_type"], ed)
            parsed[-1] = (li, ed, ent, pre, chain)
            kinds[ent["entry_type"]] += 1
            if leaf_index_ext(ent["extensions"]) != i:
                raise ValueError("extensions %s are not leaf_index %d" %
                                 (ent["extensions"].hex(), i))
            if not t_lo <= ent["timestamp"] <= now_ms + 1000:
                raise ValueError("timestamp %d" % ent["timestamp"])
            end = Cert(ent["cert"]) if ent["entry_type"] == 0 else Cert(pre)
            certs = [Cert(c) for c in chain]
        except (ValueError, IndexError) as x:
            parse_bad.append("%d: %s" % (i, x))
            continue
        why = None
        if not certs or chain[-1] != root_der:
            why = "the chain does not end at the log's root"
        elif any(a.issuer != b.subject for a, b in zip([end] + certs, certs)):
            why = "a certificate's issuer is not the next one's subject"
        elif ent["entry_type"] == 0 and end.has_ext(OID_POISON):
            why = "an x509_entry carries the poison extension"
        elif ent["entry_type"] == 1:
            if not end.has_ext(OID_POISON):
                why = "the pre_certificate has no poison extension"
            elif expected_precert_entry(pre, chain) != (ent["issuer_key_hash"], ent["tbs"]):
                why = "issuer_key_hash or TBS is not what RFC 6962 3.2 derives from the precert"
        if why:
            chain_bad.append("%d: %s" % (i, why))
    check(not shape_bad, "every entry is {leaf_input, extra_data} in base64 %s" % shape_bad[:3])
    check(not parse_bad, "every leaf_input is a v1 MerkleTreeLeaf with the leaf_index extension "
          "of its position, every extra_data a chain of DER certificates %s" % parse_bad[:3])
    check(not chain_bad, "chains: each certificate issued by the next, ending at the root; "
          "precert entries carry the issuer key hash and defanged TBS %s" % chain_bad[:3])
    check(kinds[0] > 0 and kinds[1] > 0 and kinds[0] + kinds[1] == N,
          "both kinds are there: %d x509_entry, %d precert_entry" % tuple(kinds))
    check(len(set(leaves)) == N, "the %d leaf hashes are distinct" % N)
    tree = Tree(leaves)
    check(tree.root(N) == final.root, "the root of all %d leaf hashes is get-sth's root" % N)
    bad = [x for x in sths.values() if x.size <= N and tree.root(x.size) != x.root]
    check(not bad, "every head seen while the tree grew has the root of the first tree_size "
          "leaves %s" % bad[:3])
    # more of get-entries: RFC 6962 lets a log answer fewer; never past the tree
    st, _, j = cl.json("/ct/v1/get-entries?start=%d&end=%d" % (N - 5, N + 100))
    got = j.get("entries") if j else None
    check(st == 200 and got == entries[N - 5:], "get-entries with end past the tree: the last 5 "
          "entries (%d, %s)" % (st, None if got is None else len(got)))
    st, _, j = cl.json("/ct/v1/get-entries?start=0&end=%d" % (N + 5000))
    got = j.get("entries") if j else None
    check(st == 200 and got and len(got) <= 1000 and got == entries[:len(got)],
          "get-entries of more than 1000: at most 1000, the first ones (%s)" %
          (None if got is None else len(got)))
    k = rng.randrange(N)
    st, _, j = cl.json("/ct/v1/get-entries?start=%d&end=%d" % (k, k))
    check(st == 200 and j and j.get("entries") == entries[k:k + 1], "get-entries of entry %d "
          "alone" % k)

    # ---- inclusion proofs -------------------------------------------------------------------
    pairs = {(0, 1), (0, N), (N - 1, N), (255, 256), (256, 257), (0, 256)}
    for n in sizes_seen:
        if n > 0:
            pairs |= {(0, n), (n - 1, n), (rng.randrange(n), n)}
    for _ in range(200):
        n = rng.randint(1, N)
        pairs.add((rng.randrange(n), n))
    pairs = sorted(p for p in pairs if p[1] <= N)
    bad_hash, bad_ep = [], []
    for i, n in pairs:
        want = tree.path(i, n)
        root = tree.root(n)
        st, _, j = cl.json("/ct/v1/get-proof-by-hash?hash=%s&tree_size=%d" % (q(b64s(leaves[i])),
                                                                             n))
        try:
            if st != 200 or set(j) != {"leaf_index", "audit_path"}:
                raise ValueError("status %d, %s" % (st, j))
            path = [b64(x) for x in j["audit_path"]]
            if j["leaf_index"] != i:
                raise ValueError("leaf_index %s" % j["leaf_index"])
            if not verify_inclusion(i, n, leaves[i], path, root):
                raise ValueError("does not verify")
            if path != want:
                raise ValueError("verifies but is not PATH(m, D[n])")
        except (ValueError, TypeError) as x:
            bad_hash.append("(%d, %d): %s" % (i, n, str(x)[:120]))
        st, _, j = cl.json("/ct/v1/get-entry-and-proof?leaf_index=%d&tree_size=%d" % (i, n))
        try:
            if st != 200 or set(j) != {"leaf_input", "extra_data", "audit_path"}:
                raise ValueError("status %d, %s" % (st, j))
            if j["leaf_input"] != entries[i]["leaf_input"] or \
                    j["extra_data"] != entries[i]["extra_data"]:
                raise ValueError("not the entry get-entries gave")
            path = [b64(x) for x in j["audit_path"]]
            if not verify_inclusion(i, n, leaf_hash(b64(j["leaf_input"])), path, root):
                raise ValueError("does not verify")
        except (ValueError, TypeError) as x:
            bad_ep.append("(%d, %d): %s" % (i, n, str(x)[:120]))
    check(not bad_hash, "get-proof-by-hash: %d (index, tree_size) pairs, each leaf_index right and"
          " its audit path verifies against the root of that size %s" % (len(pairs), bad_hash[:3]))
    check(not bad_ep, "get-entry-and-proof: the same %d pairs, the entry and a verifying audit path"
          " %s" % (len(pairs), bad_ep[:3]))

    # ---- consistency proofs -----------------------------------------------------------------
    cpairs = {(1, N), (N - 1, N), (1, 2), (255, 256), (256, 257), (N, N)}
    real = [n for n in sizes_seen if n > 0] + [N]
    cpairs |= set(zip(real, real[1:]))
    cpairs |= {(a, N) for a in real}
    for _ in range(200):
        b = rng.randint(1, N)
        cpairs.add((rng.randint(1, b), b))
    cpairs = sorted(p for p in cpairs if 0 < p[0] <= p[1] <= N)
    bad = []
    for m, n in cpairs:
        st, _, j = cl.json("/ct/v1/get-sth-consistency?first=%d&second=%d" % (m, n))
        try:
            if st != 200 or set(j) != {"consistency"}:
                raise ValueError("status %d, %s" % (st, j))
            path = [b64(x) for x in j["consistency"]]
            if not verify_consistency(m, n, tree.root(m), tree.root(n), path):
                raise ValueError("does not verify")
            if path != tree.proof(m, n):
                raise ValueError("verifies but is not PROOF(m, D[n])")
        except (ValueError, TypeError) as x:
            bad.append("(%d, %d): %s" % (m, n, str(x)[:120]))
    check(not bad, "get-sth-consistency: %d pairs (random, and between the heads seen), each "
          "verifies %s" % (len(cpairs), bad[:3]))
    st, _, j = cl.json("/ct/v1/get-sth-consistency?first=0&second=%d" % N)
    check(st in (200, 400) and (st == 400 or j == {"consistency": []}),
          "get-sth-consistency from 0: an empty proof or 400 (%d %s)" % (st, j))

    # ---- the static-ct-api: checkpoint, hash tiles, data tiles, issuers ------------------------
    st, hd, body = cl.get("/checkpoint")
    cp, why = None, ""
    try:
        cp = parse_checkpoint(body.decode())
    except (ValueError, UnicodeDecodeError) as x:
        why = str(x)
    check(st == 200 and cp is not None, "/checkpoint is a note: origin, size, root, blank line, "
          "signatures (%d %s %s)" % (st, why, body[:200]))
    check(hd.get("content-type", "").replace(" ", "").lower() == "text/plain;charset=utf-8",
          "/checkpoint is text/plain; charset=utf-8 (%s)" % hd.get("content-type"))
    print("info /checkpoint Cache-Control: %s" % hd.get("cache-control"))
    if cp:
        o, size, root, sigs = cp
        check(o == origin and size == N and root == tree.root(N), "the checkpoint: origin %s, size "
              "%d, the root of the entries" % (o, size))
        mine = [sg for name, sg in sigs if name == origin and sg[:4] ==
                rfc6962_note_key_id(origin, spki)]
        good = [verify_note_sig(o, size, root, sg, spki, pub, tmp) for sg in mine]
        check(len(mine) == 1 and good[0][0] and good[0][1] <= int(time.time() * 1000) + 1000,
              "its RFC6962NoteSignature: key ID from the log ID, the tree head signature "
              "verifies (openssl)")
    tiles, tbad = {}, []
    for level, n, w, path in tile_paths(N):
        st, hd, body = cl.get("/" + path)
        if st != 200 or len(body) != 32 * w:
            tbad.append("%s: %d, %d bytes" % (path, st, len(body)))
            continue
        if hd.get("content-type") != "application/octet-stream":
            tbad.append("%s: Content-Type %s" % (path, hd.get("content-type")))
        tiles[(level, n)] = body
        if (level, n) == (0, 0):
            print("info /tile/0/000 Cache-Control: %s" % hd.get("cache-control"))
    check(not tbad and tiles, "the %d hash tiles of size %d (%s): 200, 32 bytes a hash, "
          "application/octet-stream %s" % (len(tiles), N, " ".join(p[3] for p in tile_paths(N)),
                                           tbad[:3]))
    try:
        troot = root_from_tiles(N, tiles)
    except (KeyError, ValueError) as x:
        troot = str(x)
    check(cp is not None and troot == cp[2], "the root from the tiles, as a tiles client computes"
          " it, is the checkpoint's root")
    bad = []
    for (level, n), t in tiles.items():
        span = 256 ** level
        for j in range(len(t) // 32):
            if t[32 * j:32 * j + 32] != tree.mth((256 * n + j) * span, span):
                bad.append("tile/%d/%d #%d" % (level, n, j))
        if level > 0 and len(t) // 32 > 0:
            for j in range(len(t) // 32):
                lower = tiles.get((level - 1, 256 * n + j))
                if lower and len(lower) == 8192 and \
                        perfect_root([lower[32 * k:32 * k + 32] for k in range(256)]) != \
                        t[32 * j:32 * j + 32]:
                    bad.append("tile/%d/%d #%d is not the MTH of the tile below" % (level, n, j))
    check(not bad, "every tile hash is the MTH of its 256^L leaves; level 1 hashes the full level"
          " 0 tiles %s" % bad[:3])
    # beyond the published tree, and malformed tile paths
    last, w = N // 256, N % 256
    beyond = ["tile/0/%s.p/%d" % (tile_index_path(last + 1), 1), "tile/data/%s.p/1" %
              tile_index_path(last + 1), "tile/0/%s" % tile_index_path(last + 1)]
    if w:
        beyond += ["tile/0/%s" % tile_index_path(last), "tile/data/%s" % tile_index_path(last)]
        if w < 255:
            beyond += ["tile/0/%s.p/%d" % (tile_index_path(last), w + 1),
                       "tile/data/%s.p/%d" % (tile_index_path(last), w + 1)]
    res = [(p, cl.get("/" + p)[0]) for p in beyond]
    check(all(st == 404 for _, st in res), "tiles past the published tree are 404: %s" % res)
    malformed = ["tile/6/000", "tile/0/0", "tile/0/0000", "tile/0/000.p/0", "tile/0/000.p/256",
                 "tile/0/000.p/05", "tile/0/x000/000", "tile/00/000", "tile/-1/000",
                 "tile/data/000.p/", "tile/0/000.p", "tile/0/", "tile/data/x001"]
    res = [(p, cl.get("/" + p)[0]) for p in malformed]
    check(all(st in (400, 404) for _, st in res), "malformed tile paths get 400 or 404: %s" % res)

    # data tiles
    dbad, fps_all, dtiles = [], set(), {}
    for n in range((N + 255) // 256):
        w = min(256, N - 256 * n)
        path = "tile/data/%s" % tile_index_path(n) + ("" if w == 256 else ".p/%d" % w)
        st, hd, body = cl.get("/" + path)
        try:
            if st != 200:
                raise ValueError("status %d" % st)
            if hd.get("content-type") != "application/octet-stream":
                raise ValueError("Content-Type %s" % hd.get("content-type"))
            tl = parse_data_tile(body)
            dtiles[n] = body
            if len(tl) != w:
                raise ValueError("%d TileLeafs, not %d" % (len(tl), w))
            for j, (te, ent, pre, fps) in enumerate(tl):
                k = 256 * n + j
                li, ed, pent, ppre, pchain = parsed[k]
                if leaf_hash(b"\x00\x00" + te) != tiles[(0, n)][32 * j:32 * j + 32]:
                    raise ValueError("#%d does not hash to its level-0 tile hash" % k)
                if te != li[2:]:
                    raise ValueError("#%d TimestampedEntry is not get-entries' leaf_input" % k)
                if pre != ppre:
                    raise ValueError("#%d pre_certificate is not get-entries'" % k)
                if fps != [sha256(c) for c in pchain]:
                    raise ValueError("#%d fingerprints are not get-entries' chain" % k)
                fps_all.update(fps)
        except (ValueError, TypeError, KeyError) as x:
            dbad.append("%s: %s" % (path, x))
    check(not dbad, "data tiles: %d TileLeafs hash to the level-0 tiles and match get-entries "
          "(entry, pre_certificate, chain fingerprints) %s" % (N, dbad[:3]))
    check_data_tiles_before_h2o(s.port, cl, dtiles)
    # the partial tiles of the earlier heads: served while their tile is partial, prefixes
    pbad, npart = [], 0
    full_now = {(level, n) for level, n, w, p in tile_paths(N) if w == 256}
    for size in sizes_seen:
        for level, n, w, path in tile_paths(size) if 0 < size < N else []:
            if w == 256:
                continue
            paths = [(path, tiles.get((level, n), b"")[:32 * w])]
            if level == 0:
                cur = dtiles.get(n, b"")
                try:
                    cut = sum(len(te) + (3 + len(pre) if pre else 0) + 2 + 32 * len(fps)
                              for te, e, pre, fps in parse_data_tile(cur)[:w])
                except ValueError:
                    cut = 0
                paths.append(("tile/data/" + path[len("tile/0/"):], cur[:cut]))
            for p, want in paths:
                st, hd, body = cl.get("/" + p)
                npart += 1
                if (level, n) in full_now and st == 404:
                    continue  # "once a full tile is available, logs MAY omit partial tiles"
                if st != 200 or body != want or not want:
                    pbad.append("%s (head %d): %d, %d bytes" % (p, size, st, len(body)))
    check(npart > 0 and not pbad, "the %d partial tiles of earlier heads: each served while its "
          "tile is partial, the prefix of today's tile %s" % (npart, pbad[:3]))
    ibad = []
    for fp in sorted(fps_all):
        st, hd, body = cl.get("/issuer/" + fp.hex())
        if st != 200 or sha256(body) != fp or hd.get("content-type") != "application/pkix-cert":
            ibad.append("%s: %d %s" % (fp.hex()[:16], st, hd.get("content-type")))
    check(fps_all and not ibad, "/issuer/<hex> for the %d fingerprints the TileLeafs name: "
          "SHA-256 of the body is the fingerprint, application/pkix-cert %s" % (len(fps_all),
                                                                               ibad[:3]))
    res = [cl.get("/issuer/" + x)[0] for x in (sha256(b"absent").hex(),
                                               sorted(fps_all)[0].hex().upper() if fps_all else "",
                                               "00" * 31, "zz" * 32)]
    check(all(st in (400, 404) for st in res), "an unknown, upper-case, short or non-hex issuer "
          "fingerprint: 404 or 400 %s" % res)

    # ---- bad parameters: 400 with a reason, and the server keeps serving ------------------------
    good_hash = q(b64s(leaves[0]))
    cons, pbh, ent, eap = ("/ct/v1/get-sth-consistency", "/ct/v1/get-proof-by-hash",
                           "/ct/v1/get-entries", "/ct/v1/get-entry-and-proof")
    bad400 = [
        (cons + "?first=a&second=5", "first not a number"),
        (cons + "?first=1&second=5x", "second not a number"),
        (cons + "?first=-1&second=5", "first negative"),
        (cons + "?first=1&second=-5", "second negative"),
        (cons + "?first=1", "second missing"),
        (cons + "?second=5", "first missing"),
        (cons, "no query"),
        (cons + "?first=&second=5", "first empty"),
        (cons + "?first=5&second=3", "first > second"),
        (cons + "?first=1&second=%d" % (N + 1), "second beyond the tree"),
        (cons + "?first=1&second=99999999999999999999999", "second overflows 64 bits"),
        (pbh + "?hash=!!!!&tree_size=%d" % N, "hash not base64"),
        (pbh + "?hash=%s&tree_size=%d" % (q(b64s(b"\x01" * 31)), N), "hash of 31 bytes"),
        (pbh + "?hash=%s&tree_size=%d" % (q(b64s(b"\x01" * 33)), N), "hash of 33 bytes"),
        (pbh + "?hash=%s&tree_size=0" % good_hash, "tree_size 0"),
        (pbh + "?hash=%s&tree_size=x" % good_hash, "tree_size not a number"),
        (pbh + "?hash=%s&tree_size=-1" % good_hash, "tree_size negative"),
        (pbh + "?hash=%s" % good_hash, "tree_size missing"),
        (pbh + "?tree_size=%d" % N, "hash missing"),
        (pbh + "?hash=%s&tree_size=%d" % (good_hash, N + 1), "tree_size beyond the tree"),
        (ent + "?start=x&end=5", "start not a number"),
        (ent + "?start=0&end=y", "end not a number"),
        (ent + "?start=-1&end=5", "start negative"),
        (ent + "?start=0&end=-5", "end negative"),
        (ent + "?start=0", "end missing"),
        (ent + "?end=5", "start missing"),
        (ent, "no query"),
        (ent + "?start=5&end=3", "start > end"),
        (ent + "?start=%d&end=%d" % (N, N + 5), "start at the tree size"),
        (ent + "?start=%d&end=%d" % (N + 100, N + 200), "start beyond the tree"),
        (eap + "?leaf_index=%d&tree_size=%d" % (N, N), "leaf_index = tree_size"),
        (eap + "?leaf_index=%d&tree_size=%d" % (N - 1, N - 5), "leaf_index > tree_size"),
        (eap + "?leaf_index=0&tree_size=0", "tree_size 0"),
        (eap + "?leaf_index=x&tree_size=%d" % N, "leaf_index not a number"),
        (eap + "?leaf_index=-1&tree_size=%d" % N, "leaf_index negative"),
        (eap + "?tree_size=%d" % N, "leaf_index missing"),
        (eap + "?leaf_index=0", "tree_size missing"),
        (eap + "?leaf_index=0&tree_size=%d" % (N + 1), "tree_size beyond the tree"),
    ]
    for path, what in bad400:
        st, hd, body = cl.get(path)
        one, reason = one_line_reason(body)
        st2, _, j2 = cl.json("/ct/v1/get-sth")
        check(st == 400 and one and st2 == 200 and sth_size(j2) == N,
              "%s: 400 (%d: %s), get-sth still 200" % (what, st, reason[:100]))
    st, hd, body = cl.get(pbh + "?hash=%s&tree_size=%d" % (q(b64s(sha256(b"absent"))), N))
    check(st == 404, "get-proof-by-hash of a hash not in the tree: 404 (%d %s)" %
          (st, body[:100]))
    st, hd, body = cl.get(pbh + "?hash=%s&tree_size=%d" % (q(b64s(leaves[N - 1])), N - 1))
    check(st in (400, 404), "get-proof-by-hash of a leaf after tree_size: 400 or 404 (%d %s)" %
          (st, body[:100]))
    for path in ["/ct/v1/get-sthx", "/ct/v1/get-sth/x", "/ct/v2/get-sth", "/checkpoint/x",
                 "/checkpoints", "/issuer/", "/tile/", "/nope", "/ct/v1/"]:
        st, hd, body = cl.get(path)
        check(st == 404, "GET %s: 404 (%d)" % (path, st))
    for method, path in [("POST", "/ct/v1/get-sth"), ("POST", ent + "?start=0&end=1"),
                         ("POST", "/ct/v1/get-sth-consistency?first=1&second=2"),
                         ("POST", pbh + "?hash=%s&tree_size=%d" % (good_hash, N)),
                         ("POST", eap + "?leaf_index=0&tree_size=1"), ("POST", "/checkpoint"),
                         ("POST", "/tile/0/000"), ("POST", "/tile/data/000"),
                         ("PUT", "/ct/v1/get-sth"), ("DELETE", "/checkpoint")]:
        st, hd, body = cl.req(method, path, b"{}" if method != "DELETE" else None)
        check(st == 405 and "allow" in hd, "%s %s: 405 with Allow (%d, Allow: %s)" %
              (method, path, st, hd.get("allow")))
    for path in ["/ct/v1/get-sth", "/checkpoint", "/tile/0/000"]:
        st, hd, body = cl.req("HEAD", path)
        check(st == 200 and body == b"", "HEAD %s: 200, no body (%d)" % (path, st))
    st, _, j = cl.json("/ct/v1/get-sth")
    check(st == 200 and sth_size(j) == N, "after every bad request the server still answers")

    # ---- certspotter follows the log to the end -------------------------------------------------
    if cs_exe:
        certspotter(N)
        bad_lines, reported = [], set()
        for want, (rc, out, err, state, took) in cs_runs:
            for line in err.splitlines():
                text = re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line)
                if not any(re.match(p, text) for p in CERTSPOTTER_BENIGN):
                    bad_lines.append(line)
            reported |= {int(m) for m in re.findall(r"Log Entry = (\d+) @ ", out)}
        check(not bad_lines, "certspotter's stderr has nothing but progress: %s" % bad_lines[:5])
        state = cs_runs[-1][1][3] if cs_runs else None
        try:
            vs = state["verified_sth"]
            vp = state["verified_position"]
            ok = (vs["tree_size"] == N and b64(vs["sha256_root_hash"]) == tree.root(N) and
                  b64(vs["log_id"]) == log_id and vp["size"] == N and
                  collapsed_root([b64(x) for x in vp["nodes"]]) == tree.root(N))
        except (TypeError, KeyError, ValueError):
            ok = False
        check(ok, "certspotter's state: verified head of size %d with the log's root, and its "
              "collapsed tree folds to that root" % N)
        mdir = [os.path.join(cs_state, "logs", d, "malformed_entries")
                for d in os.listdir(os.path.join(cs_state, "logs"))] if os.path.isdir(
            os.path.join(cs_state, "logs")) else []
        malformed_n = sum(len(os.listdir(d)) for d in mdir if os.path.isdir(d))
        check(mdir and malformed_n == 0, "certspotter found no malformed entry (%s)" % malformed_n)
        check(reported == set(range(N)), "certspotter reported every entry as matching the "
              "watch list: %d of %d" % (len(reported), N))

    rc = s.stop()
    check(rc == 0, "SIGTERM: the server exits 0 (%s)" % rc)
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
