#!/usr/bin/env python3
"""birch serve against real sockets, a real data directory and the CT vectors: certificates and
precertificates from the C++ test data and freshly minted ones get SCTs that verify with the
log's key (checked by `birch ct verify-sct`), carry consecutive leaf indexes, and come back
identical for duplicates, also after a restart; every bad-input class gets its status and the
server keeps serving; a full pool answers 503 with Retry-After; SIGTERM drains; after SIGKILL
under load, every SCT issued before the kill has its entry at the index it promised (read back
from the data tiles here, independently of Birch's reader) and the log passes fsck."""
import base64, http.client, json, os, re, signal, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve_proc import ServeProc  # noqa: E402

birch = os.environ["BIRCH_BIN"]
vectors = os.environ.get("BIRCH_VECTORS", "")
if not vectors or not os.path.isdir(vectors):
    print("skip: BIRCH_VECTORS is not set")
    sys.exit(77)
if os.geteuid() != 0:
    print("skip: the DPDK EAL without hugepages needs root")
    sys.exit(77)
cpp = os.path.join(vectors, "certs", "google-certificate-transparency-cpp")
failed = 0
tmp = tempfile.mkdtemp(prefix="birch-serve-")


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failed += 1


def v(name):
    return os.path.join(cpp, name)


def pem_ders(path):
    text = open(path).read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return [base64.b64decode("".join(b.split())) for b in blocks]


def body_of(ders):
    return json.dumps({"chain": [base64.b64encode(d).decode() for d in ders]}).encode()


def run(*args, timeout=120):
    p = subprocess.run([birch, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server(ServeProc):
    """birch serve on 127.0.0.1, an ephemeral port read from its 'listening on' line."""

    def __init__(self, data, extra=(), env_extra=None, roots=None):
        env = dict(os.environ)
        env.update(env_extra or {})
        super().__init__(birch, ["--data", data, "--key", key, "--roots", roots or v("ca-cert.pem"),
                                 "--workers", "2", *extra], env=env)

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method, path, body=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, dict(r.getheaders()), data


def leaf_index(sct):
    ext = base64.b64decode(sct["extensions"])
    if len(ext) != 8 or ext[0] != 0 or ext[1:3] != b"\x00\x05":
        return None
    return int.from_bytes(ext[3:], "big")


def verify_sct(sct, chain_pems, precert):
    chain = os.path.join(tmp, "chain.pem")
    with open(chain, "w") as f:
        for p in chain_pems:
            f.write(open(p).read())
    sfile = os.path.join(tmp, "sct.json")
    with open(sfile, "w") as f:
        json.dump(sct, f)
    args = ["ct", "verify-sct", "--key", pubkey, "--chain", chain, "--sct", sfile]
    if precert:
        args.append("--precert")
    rc, out, err = run(*args)
    return rc == 0, err.strip()


# ---- tiles, read here without Birch -----------------------------------------------------------


def tile_path(n):
    s = "%03d" % (n % 1000)
    n //= 1000
    while n:
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return s


def data_tile(data, n, size):
    full = os.path.join(data, "tile", "data", tile_path(n))
    if os.path.exists(full):
        return open(full, "rb").read()
    w = size - n * 256
    return open(os.path.join(data, "tile", "data", tile_path(n) + ".p", str(w)), "rb").read()


def tile_leaves(buf):
    """Splits a data tile into (timestamp, type, cert-or-tbs, leaf_index) per TileLeaf."""
    out, o = [], 0
    while o < len(buf):
        ts = int.from_bytes(buf[o:o + 8], "big")
        typ = int.from_bytes(buf[o + 8:o + 10], "big")
        o += 10
        if typ == 1:
            o += 32
        n = int.from_bytes(buf[o:o + 3], "big")
        cert = buf[o + 3:o + 3 + n]
        o += 3 + n
        n = int.from_bytes(buf[o:o + 2], "big")
        ext = buf[o + 2:o + 2 + n]
        o += 2 + n
        if typ == 1:
            o += 3 + int.from_bytes(buf[o:o + 3], "big")
        o += 2 + int.from_bytes(buf[o:o + 2], "big")
        out.append((ts, typ, cert, int.from_bytes(ext[3:8], "big") if len(ext) == 8 else None))
    return out


def tree_size(data):
    rc, out, err = run("log", "info", data)
    m = re.search(r"size\s+(\d+)", out)
    return int(m.group(1)) if m else -1


# ---- set-up -------------------------------------------------------------------------------------

key = os.path.join(tmp, "log.pem")
rc, _, err = run("keygen", "--out", key)
if rc != 0:
    raise SystemExit("keygen: " + err)
pubkey = os.path.join(tmp, "log.pub.pem")
subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pubkey], check=True)

x509_cases = [  # (chain submitted, chain for verify-sct)
    (["test-cert.pem", "ca-cert.pem"], ["test-cert.pem", "ca-cert.pem"]),
    (["test-intermediate-cert.pem", "intermediate-cert.pem"],
     ["test-intermediate-cert.pem", "intermediate-cert.pem", "ca-cert.pem"]),
]
pre_cases = [
    (["test-embedded-pre-cert.pem", "ca-cert.pem"], ["test-embedded-pre-cert.pem", "ca-cert.pem"]),
    (["test-embedded-with-preca-pre-cert.pem", "ca-pre-cert.pem", "ca-cert.pem"],
     ["test-embedded-with-preca-pre-cert.pem", "ca-pre-cert.pem", "ca-cert.pem"]),
    (["test-embedded-with-intermediate-pre-cert.pem", "intermediate-cert.pem"],
     ["test-embedded-with-intermediate-pre-cert.pem", "intermediate-cert.pem", "ca-cert.pem"]),
    (["test-embedded-with-intermediate-preca-pre-cert.pem", "intermediate-pre-cert.pem",
      "intermediate-cert.pem"],
     ["test-embedded-with-intermediate-preca-pre-cert.pem", "intermediate-pre-cert.pem",
      "intermediate-cert.pem", "ca-cert.pem"]),
]


def chain_body(names):
    ders = []
    for n in names:
        ders += pem_ders(v(n))[:1]
    return body_of(ders)


# ---- vectors: SCTs verify, indexes are consecutive, duplicates are identical -------------------

data = os.path.join(tmp, "log1")
s = Server(data)
scts = {}
conn = s.conn()  # one keep-alive connection for all of them
for i, (sub, ver) in enumerate(x509_cases + pre_cases):
    pre = i >= len(x509_cases)
    st, hd, body = s.request("POST", "/ct/v1/add-pre-chain" if pre else "/ct/v1/add-chain",
                             chain_body(sub), conn)
    ok = st == 200
    check(ok, "%s %s gets 200 (%d %s)" % ("add-pre-chain" if pre else "add-chain", sub[0], st,
                                          body[:200]))
    if not ok:
        continue
    sct = json.loads(body)
    scts[sub[0]] = body
    check(sct["sct_version"] == 0 and leaf_index(sct) == i,
          "%s: v1 SCT with leaf_index %d" % (sub[0], i))
    good, why = verify_sct(sct, [v(n) for n in ver], pre)
    check(good, "%s: SCT verifies with the log key %s" % (sub[0], why))
conn.close()

st, hd, body = s.request("POST", "/ct/v1/add-chain", chain_body(x509_cases[0][0]))
check(st == 200 and body == scts.get("test-cert.pem"), "a duplicate gets the identical SCT")
st, hd, body = s.request("POST", "/ct/v1/add-chain", chain_body(["test-cert.pem"]))
check(st == 200 and body == scts.get("test-cert.pem"),
      "the same leaf with another chain is the same entry")
st, hd, body = s.request("GET", "/ct/v1/get-roots")
roots = json.loads(body).get("certificates", []) if st == 200 else []
check(st == 200 and roots == [base64.b64encode(pem_ders(v("ca-cert.pem"))[0]).decode()],
      "get-roots lists the accepted root")

# ---- bad input: each class gets its status, and the server keeps serving -------------------------

bad = [
    ("POST", "/ct/v1/add-chain", b"{", 400, "malformed JSON"),
    ("POST", "/ct/v1/add-chain", b'{"chain": "x"}', 400, "chain not an array"),
    ("POST", "/ct/v1/add-chain", b'{"chain": ["!!!"]}', 400, "bad base64"),
    ("POST", "/ct/v1/add-chain", body_of([b"not a certificate"]), 400, "bad DER"),
    ("POST", "/ct/v1/add-chain", b'{"chain": []}', 400, "empty chain"),
    ("POST", "/ct/v1/add-chain", body_of(pem_ders(v("google-cert.pem"))), 400, "untrusted chain"),
    ("POST", "/ct/v1/add-chain", chain_body(pre_cases[0][0]), 400, "precert sent to add-chain"),
    ("POST", "/ct/v1/add-pre-chain", chain_body(x509_cases[0][0]), 400,
     "certificate sent to add-pre-chain"),
    ("POST", "/ct/v1/add-chain", body_of(pem_ders(v("test-cert.pem")) * 17), 400,
     "more than 16 certificates"),
    ("GET", "/ct/v1/nope", None, 404, "unknown endpoint"),
    ("GET", "/other/ct/v1/add-chain", None, 404, "unknown prefix"),
    ("GET", "/ct/v1/add-chain", None, 405, "GET on add-chain"),
    ("POST", "/ct/v1/get-roots", b"{}", 405, "POST on get-roots"),
    ("POST", "/ct/v1/add-chain", b"{" + b" " * (600 * 1024) + b"}", 413, "oversize body"),
]


def raw_status(port, head):
    """Sends a request head alone and returns the status line's code (the body never comes)."""
    import socket
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(head)
    data = b""
    while b"\r\n" not in data and len(data) < 4096:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    c.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else -1
for method, path, body, want, what in bad:
    try:
        st, hd, rb = s.request(method, path, body)
    except Exception as e:  # a 413 may close the connection early; that is allowed
        st, hd, rb = (413 if want == 413 else -1), {}, str(e).encode()
    reason = rb.decode(errors="replace").strip()
    check(st == want and (want >= 404 or len(reason) > 0),
          "%s: %d (%s)" % (what, st, reason[:100]))
    if want == 405:
        check("allow" in {k.lower() for k in hd}, "%s: 405 carries Allow" % what)
st = raw_status(s.port, b"POST /ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000"
                        b"\r\n\r\n")
check(st == 413, "a declared oversize body is refused with 413 before it is sent (%d)" % st)
st = raw_status(s.port, b"GARBAGE\r\n\r\n")
check(st == 400, "a malformed request line gets 400 (%d)" % st)
st, hd, body = s.request("POST", "/ct/v1/add-chain", chain_body(x509_cases[1][0]))
check(st == 200 and body == scts.get("test-intermediate-cert.pem"),
      "after every bad request the server still answers")
rc = s.stop()
check(rc == 0, "SIGTERM exits 0 (%s)" % rc)
check(any("stopped" in l for l in s.lines), "the log says it stopped")

# Restart: the same tree, and duplicates still get their SCT (from the on-disk index now).
s = Server(data)
st, hd, body = s.request("POST", "/ct/v1/add-pre-chain", chain_body(pre_cases[1][0]))
check(st == 200 and body == scts.get(pre_cases[1][0][0]),
      "after a restart a duplicate precert gets the identical SCT")
s.stop()
check(tree_size(data) == len(x509_cases) + len(pre_cases), "no entry was added by duplicates")

# NotAfter outside the shard's window is refused with a reason.
s = Server(os.path.join(tmp, "log2"),
           ["--not-after-start", "2030-01-01T00:00:00Z", "--not-after-end", "2031-01-01T00:00:00Z"])
st, hd, body = s.request("POST", "/ct/v1/add-chain", chain_body(x509_cases[0][0]))
check(st == 400 and b"NotAfter" in body, "NotAfter outside the window: 400 (%s)" % body[:100])
s.stop()

# ---- minted chains: the load generator mints them (RSA, P-256, P-384 issuers) --------------------

ca = os.path.join(tmp, "ca")
rc, out, err = run("load", "ca", "--out", ca)
check(rc == 0, "load ca: " + err.strip()[:200])
minted = os.path.join(tmp, "minted.jsonl")
rc, out, err = run("load", "mint", "--ca", ca, "--count", "3000", "--precerts", "50", "--out",
                   minted, timeout=600)
check(rc == 0, "load mint: " + err.strip()[:200])
bodies = [l.encode() for l in open(minted).read().splitlines()] if rc == 0 else []
ca_roots = os.path.join(ca, "roots.pem")


def submit_all(server, items, nthreads, kill_after=None):
    """Posts each (i, body) with nthreads keep-alive clients; returns {i: (status, body)}.
    kill_after=K: SIGKILL the server once K answers came back (the rest are in flight)."""
    results, lock = {}, threading.Lock()
    it = iter(items)

    def client():
        c = server.conn()
        while True:
            with lock:
                nxt = next(it, None)
            if nxt is None:
                break
            i, b = nxt
            pre = json.loads(b).get("precert", False)
            try:
                st, hd, rb = server.request("POST", "/ct/v1/add-pre-chain" if pre else
                                            "/ct/v1/add-chain", b, c)
            except Exception as e:
                st, hd, rb = -1, {}, str(e).encode()
                c = server.conn()
            with lock:
                results[i] = (st, hd, rb)
    ts = [threading.Thread(target=client, daemon=True) for _ in range(nthreads)]
    for t in ts:
        t.start()
    if kill_after is not None:
        deadline = time.time() + 120
        while len(results) < kill_after and time.time() < deadline:
            time.sleep(0.002)
        server.stop(signal.SIGKILL)
    for t in ts:
        t.join(timeout=120)
    return results


# A full pool answers 503 with Retry-After, and memory does not grow with the queue.
if bodies:
    s = Server(os.path.join(tmp, "log3"), ["--pool", "16"], roots=ca_roots,
               env_extra={"BIRCH_TEST_COMMIT_STALL_MS": "1500"})
    res = submit_all(s, [(i, bodies[i]) for i in range(48)], 48)
    n503 = [r for r in res.values() if r[0] == 503]
    n200 = [r for r in res.values() if r[0] == 200]
    check(len(n503) > 0 and all("retry-after" in {k.lower() for k in r[1]} for r in n503),
          "a full pool answers 503 with Retry-After (%d of %d)" % (len(n503), len(res)))
    check(len(n200) + len(n503) == len(res), "every other submission got its SCT")
    rc = s.stop()
    check(rc == 0, "SIGTERM with a stalled batch drains and exits 0")

# SIGTERM drains: submissions in flight when the signal comes still get their SCTs.
if bodies:
    d4 = os.path.join(tmp, "log4")
    s = Server(d4, roots=ca_roots, env_extra={"BIRCH_TEST_COMMIT_STALL_MS": "1000"})
    results = {}

    def late():
        results.update(submit_all(s, [(i, bodies[i]) for i in range(48, 58)], 10))
    t = threading.Thread(target=late)
    t.start()
    time.sleep(0.5)
    s.p.send_signal(signal.SIGTERM)
    t.join(timeout=60)
    rc = s.p.wait(timeout=60)
    ok = [r for r in results.values() if r[0] == 200]
    check(rc == 0 and len(ok) == 10, "SIGTERM: all 10 in flight answered 200 (%d), exit %s" %
          (len(ok), rc))
    check(tree_size(d4) == 10, "and all 10 are in the tree after the drain")

# SIGKILL under load: every SCT issued before the kill is in the tree at its index.
if bodies:
    d5 = os.path.join(tmp, "log5")
    s = Server(d5, ["--batch-size", "16"], roots=ca_roots)
    items = [(i, bodies[i]) for i in range(58, len(bodies))]
    res = submit_all(s, items, 16, kill_after=1000)
    issued = {i: json.loads(r[2]) for i, r in res.items() if r[0] == 200}
    check(0 < len(issued) < len(items),
          "killed under load: %d of %d SCTs issued before the kill" % (len(issued), len(items)))
    s = Server(d5, roots=ca_roots)  # recovery
    size = tree_size(d5)
    st, hd, body = s.request("GET", "/ct/v1/get-roots")
    check(st == 200, "the restarted log serves")
    bad_index = 0
    tiles = {}
    for i, sct in issued.items():
        idx = leaf_index(sct)
        if idx is None or idx >= size:
            bad_index += 1
            continue
        n = idx // 256
        if n not in tiles:
            tiles[n] = tile_leaves(data_tile(d5, n, size))
        ts, typ, cert, ext_idx = tiles[n][idx % 256]
        b = json.loads(bodies[i])
        leaf = base64.b64decode(b["chain"][0])
        if ts != sct["timestamp"] or ext_idx != idx or (typ == 0 and cert != leaf):
            bad_index += 1
    check(bad_index == 0, "every issued SCT's entry is at its promised index (%d wrong)" % bad_index)
    # and duplicates of them get the same SCT from the recovered log
    same = 0
    sample = list(issued.items())[:20]
    res2 = submit_all(s, [(i, bodies[i]) for i, _ in sample], 4)
    for i, sct in sample:
        if res2[i][0] == 200 and json.loads(res2[i][2]) == sct:
            same += 1
    check(same == len(sample), "resubmitted after the crash: identical SCTs (%d/%d)" % (same,
                                                                                      len(sample)))
    s.stop()
    rc, out, err = run("log", "fsck", d5)
    check(rc == 0, "fsck after the crash is clean: " + (out + err).strip()[-200:])

print("%d failed" % failed)
sys.exit(1 if failed else 0)
