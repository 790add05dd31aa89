#!/usr/bin/env python3
"""Integration test: `birch merkle` end to end, against the RFC 6962 vectors and against an
independent Python (hashlib) implementation of RFC 6962, plus every bad-input case the tool
must refuse with exit 2 and a one-line message (never a crash). Exit 0 pass, 1 fail, 77 skip."""
import hashlib
import json
import os
import random
import subprocess
import sys

BIN = os.environ.get("BIRCH_BIN", "build/tools/birch")
VEC = os.environ.get("BIRCH_VECTORS")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        if failures <= 50:
            print("FAIL:", what, file=sys.stderr)


def birch(args, stdin=""):
    p = subprocess.run([BIN] + args, input=stdin.encode(), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# ---- an independent RFC 6962 implementation ----
def leaf(d):
    return hashlib.sha256(b"\x00" + d).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(h):
    if not h:
        return hashlib.sha256(b"").digest()
    if len(h) == 1:
        return h[0]
    k = 1
    while k * 2 < len(h):
        k *= 2
    return node(mth(h[:k]), mth(h[k:]))


def path(m, h):
    if len(h) <= 1:
        return []
    k = 1
    while k * 2 < len(h):
        k *= 2
    if m < k:
        return path(m, h[:k]) + [mth(h[k:])]
    return path(m - k, h[k:]) + [mth(h[:k])]


def subproof(m, h, b):
    if m == len(h):
        return [] if b else [mth(h)]
    k = 1
    while k * 2 < len(h):
        k *= 2
    if m <= k:
        return subproof(m, h[:k], b) + [mth(h[k:])]
    return subproof(m - k, h[k:], False) + [mth(h[:k])]


def lines(hashes):
    return "".join(x.hex() + "\n" for x in hashes)


def test_vectors():
    v = json.load(open(os.path.join(VEC, "merkle/rfc6962_8leaf.json")))
    inp = "".join(x + "\n" for x in v["leaf_inputs_hex"])
    for n in range(0, 9):
        rc, out, err = birch(["merkle", "root", "--size", str(n)], inp)
        check(rc == 0 and out == v["roots"][str(n)] + "\n", f"vector root {n}: {rc} {out} {err}")
    for c in v["inclusion_proofs"]:
        rc, out, _ = birch(["merkle", "inclusion", "--index", str(c["leaf_index"]),
                            "--size", str(c["tree_size"])], inp)
        check(rc == 0 and out == "".join(x + "\n" for x in c["audit_path"]),
              f"vector inclusion {c['leaf_index']}/{c['tree_size']}")
        rc, out, _ = birch(["merkle", "verify-inclusion", "--index", str(c["leaf_index"]),
                            "--size", str(c["tree_size"]), "--leaf-hash", c["leaf_hash"],
                            "--root", c["root"]] + c["audit_path"])
        check(rc == 0 and out == "valid\n", "vector inclusion verifies")
    for c in v["consistency_proofs"]:
        rc, out, _ = birch(["merkle", "consistency", "--old", str(c["first"]),
                            "--size", str(c["second"])], inp)
        check(rc == 0 and out == "".join(x + "\n" for x in c["consistency"]),
              f"vector consistency {c['first']}->{c['second']}")
        rc, _, _ = birch(["merkle", "verify-consistency", "--old", str(c["first"]),
                          "--size", str(c["second"]), "--old-root", c["first_root"],
                          "--root", c["second_root"], "-"], "".join(x + "\n" for x in c["consistency"]))
        check(rc == 0, "vector consistency verifies from stdin")


def test_against_python_reference():
    rnd = random.Random(6962)
    for trial in range(25):
        n = rnd.choice([1, 2, 3, 7, 8, 9, 31, 64, 100, 255, 256, 257, 1000, rnd.randint(1, 3000)])
        data = [bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 32, 100, 300])))
                for _ in range(n)]
        hs = [leaf(d) for d in data]
        inp = "".join(d.hex() + "\n" for d in data)
        root = mth(hs)
        rc, out, _ = birch(["merkle", "root"], inp)
        check(rc == 0 and out == root.hex() + "\n", f"root of {n}")
        m = rnd.randrange(n)
        rc, out, _ = birch(["merkle", "inclusion", "--index", str(m)], inp)
        check(rc == 0 and out == lines(path(m, hs)), f"inclusion {m} in {n}")
        rc, out2, err = birch(["merkle", "verify-inclusion", "--index", str(m), "--size", str(n),
                               "--leaf", data[m].hex(), "--root", root.hex(), "-"], out)
        check(rc == 0, f"verify-inclusion {m} in {n} with --leaf: {err}")
        old = rnd.randint(1, n)
        rc, out, _ = birch(["merkle", "consistency", "--old", str(old)], inp)
        check(rc == 0 and out == lines(subproof(old, hs, True)), f"consistency {old}->{n}")
        args = ["merkle", "verify-consistency", "--old", str(old), "--size", str(n),
                "--old-root", mth(hs[:old]).hex(), "--root", root.hex()]
        proof = out.split()
        rc, _, _ = birch(args + proof)
        check(rc == 0, f"verify-consistency {old}->{n}")
        if proof:
            bad = list(proof)
            i = rnd.randrange(len(bad))
            bad[i] = ("0" if bad[i][0] != "0" else "1") + bad[i][1:]
            rc, out, err = birch(args + bad)
            check(rc == 1 and err.startswith("birch merkle verify-consistency: invalid:")
                  and err.count("\n") == 1, f"tampered consistency rejected: {rc} {err}")
        rc, _, err = birch(["merkle", "verify-inclusion", "--index", str(m), "--size", str(n),
                            "--leaf-hash", leaf(b"not the leaf").hex(), "--root", root.hex(),
                            "-"], lines(path(m, hs)))
        check(rc == 1 and "invalid" in err, f"wrong leaf rejected: {rc} {err}")


def test_first_n_leaves_and_line_forms():
    inp = "00\n\n0a0B\r\nff"  # an empty leaf, CRLF, upper case, no final newline
    hs = [leaf(b"\x00"), leaf(b""), leaf(b"\x0a\x0b"), leaf(b"\xff")]
    rc, out, _ = birch(["merkle", "root"], inp)
    check(rc == 0 and out == mth(hs).hex() + "\n", "line forms")
    rc, out, _ = birch(["merkle", "root", "--size", "2"], inp)
    check(rc == 0 and out == mth(hs[:2]).hex() + "\n", "--size takes the first N")
    rc, out, _ = birch(["merkle", "root"], "")
    check(rc == 0 and out == hashlib.sha256(b"").hexdigest() + "\n", "empty input: empty root")


def test_every_implementation_agrees():
    data = "".join(f"{i:04x}\n" for i in range(777))
    roots = set()
    for impl in ["openssl", "shani", "avx2", "auto"]:
        rc, out, err = birch(["merkle", "root", "--impl", impl], data)
        if rc == 2 and "not supported" in err:
            continue
        check(rc == 0, f"--impl {impl}")
        roots.add(out)
    check(len(roots) == 1, f"implementations disagree: {roots}")


def test_bad_input_is_refused_cleanly():
    h = "00" * 32
    cases = [
        (["merkle", "root"], "abc\n", "odd number of hex digits"),
        (["merkle", "root"], "00\nzz\n", "line 2: not a hex digit"),
        (["merkle", "root", "--size", "5"], "00\n", "only 1 leaves"),
        (["merkle", "root", "--size", "-1"], "", "non-negative integer"),
        (["merkle", "root", "--size", "1e3"], "", "non-negative integer"),
        (["merkle", "root", "--size", "99999999999999999999"], "", "non-negative integer"),
        (["merkle", "root", "--size"], "", "needs a value"),
        (["merkle", "root", "--bogus"], "", "unknown flag"),
        (["merkle", "root", "extra"], "", "unexpected argument"),
        (["merkle", "inclusion"], "00\n", "needs --index"),
        (["merkle", "inclusion", "--index", "1"], "00\n", "not below the tree size"),
        (["merkle", "inclusion", "--index", "3", "--size", "3"], "00\n", "not below --size"),
        (["merkle", "consistency", "--old", "3"], "00\n00\n", "greater than the tree size"),
        (["merkle", "consistency", "--old", "3", "--size", "2"], "", "greater than --size"),
        (["merkle", "consistency", "--old", "0"], "00\n", "at least 1"),
        (["merkle", "verify-inclusion", "--index", "0", "--size", "1"], "", "needs --index"),
        (["merkle", "verify-inclusion", "--index", "1", "--size", "1", "--root", h,
          "--leaf-hash", h], "", "not below --size"),
        (["merkle", "verify-inclusion", "--index", "0", "--size", "1", "--root", h[:-2],
          "--leaf-hash", h], "", "--root must be 64 hex digits"),
        (["merkle", "verify-inclusion", "--index", "0", "--size", "1", "--root", h,
          "--leaf", "abc"], "", "--leaf must be hex"),
        (["merkle", "verify-inclusion", "--index", "0", "--size", "2", "--root", h,
          "--leaf-hash", h, "xyz"], "", "each proof argument"),
        (["merkle", "verify-inclusion", "--index", "0", "--size", "2", "--root", h,
          "--leaf-hash", h, "-"], "0011\n", "each proof line"),
        (["merkle", "verify-consistency", "--old", "3", "--size", "2", "--root", h,
          "--old-root", h], "", "greater than --size"),
        (["merkle", "verify-consistency", "--old", "0", "--size", "2", "--root", h,
          "--old-root", h], "", "at least 1"),
        (["merkle", "root", "--impl", "md5"], "", "unknown implementation"),
        (["merkle", "frobnicate"], "", "unknown subcommand"),
        (["frobnicate"], "", "unknown command"),
    ]
    for args, stdin, want in cases:
        rc, out, err = birch(args, stdin)
        check(rc == 2 and want in err and err.count("\n") == 1 and out == "",
              f"{args}: rc {rc}, stderr {err!r}, want '{want}'")
    rc, _, err = birch(["merkle", "root"], "0" * (2 * 8 * 1024 * 1024 + 2) + "\n")
    check(rc == 2 and "longer than" in err, f"oversized line: {rc} {err}")
    rc, _, err = birch(["merkle", "verify-inclusion", "--index", "0", "--size", "2",
                        "--root", h, "--leaf-hash", h] + [h] * 129)
    check(rc == 2 and "more than 128" in err, f"oversized proof: {rc} {err}")


def test_help_everywhere():
    for args in (["--help"], ["merkle", "--help"], ["merkle", "root", "--help"],
                 ["merkle", "verify-consistency", "--help"], ["merkle", "demo", "--help"], ["version"]):
        rc, out, _ = birch(args)
        check(rc == 0 and out, f"{args} prints help and exits 0")
    rc, out, _ = birch(["merkle", "demo", "--leaves", "5000"])
    check(rc == 0 and "verified" in out and "FAILED" not in out, "demo runs and verifies")


def main():
    if not VEC:
        print("SKIP: BIRCH_VECTORS is not set")
        return 77
    if not os.access(BIN, os.X_OK):
        print(f"harness error: {BIN} is not built", file=sys.stderr)
        return 99
    for t in (test_vectors, test_against_python_reference, test_first_n_leaves_and_line_forms,
              test_every_implementation_agrees, test_bad_input_is_refused_cleanly,
              test_help_everywhere):
        before = failures
        t()
        print("ok  " if failures == before else "FAIL", t.__name__, flush=True)
    print(f"{checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
