#!/usr/bin/env python3
"""birch keygen, birch ct leaf and birch ct verify-sct against the certificate-transparency
vectors: every published SCT verifies (binary and JSON forms, P-256 and RSA logs), leaf hashes
match the published ones, a wrong SCT exits 1 with a reason, bad arguments exit 2 with one
line. The key that keygen writes is checked with the openssl command, independently."""
import base64, hashlib, json, os, stat, subprocess, sys, tempfile

birch = os.environ["BIRCH_BIN"]
vectors = os.environ.get("BIRCH_VECTORS", "")
if not vectors or not os.path.isdir(vectors):
    print("skip: BIRCH_VECTORS is not set")
    sys.exit(77)
cpp = os.path.join(vectors, "certs", "google-certificate-transparency-cpp")
failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed += 1


def run(*args):
    p = subprocess.run([birch, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def v(name):
    return os.path.join(cpp, name)


tmp = tempfile.mkdtemp(prefix="birch-cli-ct-")

# keygen: mode 0600, never overwrites, log ID = SHA-256 of the SPKI (checked with openssl).
key = os.path.join(tmp, "log.pem")
rc, out, err = run("keygen", "--out", key)
check(rc == 0, "keygen exits 0: " + err.strip())
check(stat.S_IMODE(os.stat(key).st_mode) == 0o600, "key file has mode 0600")
fields = dict(line.split(None, 1) for line in out.strip().splitlines())
spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                      capture_output=True, check=True).stdout
check(fields.get("public") == base64.b64encode(spki).decode(), "public key is the SPKI in base64")
check(fields.get("log_id") == base64.b64encode(hashlib.sha256(spki).digest()).decode(),
      "log ID is SHA-256 of the SPKI")
rc, out, err = run("keygen", "--out", key)
check(rc == 2 and len(err.strip().splitlines()) == 1 and key in err,
      "keygen refuses an existing file: " + err.strip())
rc, out, err = run("keygen")
check(rc == 2 and "--out" in err, "keygen without --out is a usage error")

# Every SCT of the C++ test data verifies; leaf hashes match the published ones.
cases = json.load(open(v("VERIFIED_SCTS.json")))["cases"]
for c in cases:
    if c["entry_type"] == "x509_entry":
        chain = [v(c["cert"])]
    else:
        chain = [v(c["precert"])]
        if c.get("precert_signed_by_psc"):
            chain.append(v(c["precert_signed_by_psc"]))
        chain.append(v(c["final_issuer"]))
    chain_pem = os.path.join(tmp, "chain.pem")
    with open(chain_pem, "w") as f:
        for p in chain:
            f.write(open(p).read())
    key_pem = v(c["verify_key"])
    rc, out, err = run("ct", "verify-sct", "--key", key_pem, "--chain", chain_pem,
                       "--sct", v(c["sct"]))
    check(rc == 0 and out.strip() == "valid", "verify-sct %s (%s): %s" % (c["sct"], c["verify_key"], err.strip()))
    rc, out, err = run("ct", "leaf", "--chain", chain_pem, "--timestamp", str(c["sct_timestamp"]))
    got = dict(line.split(None, 1) for line in out.strip().splitlines()) if rc == 0 else {}
    check(got.get("leaf_hash") == c["leaf_hash"], "ct leaf hash of %s" % c["sct"])
    # The same SCT in the RFC 6962 JSON form.
    raw = open(v(c["sct"]), "rb").read()
    ext_len = int.from_bytes(raw[41:43], "big")
    doc = {"sct_version": raw[0], "id": base64.b64encode(raw[1:33]).decode(),
           "timestamp": int.from_bytes(raw[33:41], "big"),
           "extensions": base64.b64encode(raw[43:43 + ext_len]).decode(),
           "signature": base64.b64encode(raw[43 + ext_len:]).decode()}
    js = os.path.join(tmp, "sct.json")
    with open(js, "w") as f:
        json.dump(doc, f)
    rc, out, err = run("ct", "verify-sct", "--key", key_pem, "--chain", chain_pem, "--sct", js)
    check(rc == 0, "verify-sct JSON form of %s: %s" % (c["sct"], err.strip()))
    # A flipped bit in the signature: exit 1 with a reason.
    bad = bytearray(raw)
    bad[-1] ^= 1
    bp = os.path.join(tmp, "bad.sct")
    with open(bp, "wb") as f:
        f.write(bytes(bad))
    rc, out, err = run("ct", "verify-sct", "--key", key_pem, "--chain", chain_pem, "--sct", bp)
    check(rc in (1, 2) and err.strip() and len(err.strip().splitlines()) == 1,
          "flipped SCT refused with one line: " + err.strip())

# An SCT for another certificate: exit 1.
rc, out, err = run("ct", "verify-sct", "--key", v("ct-server-key-public.pem"), "--chain",
                   v("test-cert.pem"), "--sct", v("test-intermediate-cert.proof"))
check(rc == 1 and "invalid" in err, "SCT of another certificate is invalid: " + err.strip())
# Bad inputs: one line each, exit 2.
for args, what in [(["ct"], "no subcommand"), (["ct", "nope"], "unknown subcommand"),
                   (["ct", "leaf"], "leaf without --chain"),
                   (["ct", "leaf", "--chain", os.path.join(tmp, "missing.pem")], "missing file"),
                   (["ct", "leaf", "--chain", v("ct-server-key-public.pem")], "not a certificate"),
                   (["ct", "leaf", "--chain", v("test-cert.pem"), "--timestamp", "x"], "bad timestamp"),
                   (["ct", "leaf", "--chain", v("test-cert.pem"), "--precert"], "--precert on a cert"),
                   (["ct", "verify-sct", "--key", v("test-cert.pem"), "--chain", v("test-cert.pem"),
                     "--sct", v("test-cert.proof")], "a certificate as the key")]:
    rc, out, err = run(*args)
    check(rc == 2 and len(err.strip().splitlines()) >= 1, "%s exits 2: %s" % (what, err.strip().splitlines()[:1]))
for cmd in (["keygen", "--help"], ["ct", "--help"], ["ct", "leaf", "--help"]):
    rc, out, err = run(*cmd)
    check(rc == 0 and "usage:" in out, " ".join(cmd) + " prints usage")

print("%d failed" % failed)
sys.exit(1 if failed else 0)
