#!/usr/bin/env python3
"""birch log info and fsck on a real log: clean logs exit 0, a corrupted one exits 1 and names
the tile, bad arguments exit 2 with a one-line message."""
import os, shutil, subprocess, sys, tempfile

birch = os.environ["BIRCH_BIN"]
mklog = os.environ["BIRCH_MKLOG"]
failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed += 1


def run(*args):
    p = subprocess.run([birch, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix="birch-cli-log-")
try:
    d = os.path.join(tmp, "log")
    subprocess.run([mklog, d, "1000"], check=True, timeout=120)
    rc, out, err = run("log", "info", d)
    check(rc == 0, "info exits 0")
    check("size             1000" in out, "info gives the size")
    check("signed head      size 1000" in out, "info gives the signed head")
    check("birch.test/mklog" in out, "info prints the checkpoint")
    check("tiles" in out and "index/" in out and "per entry" in out, "info gives disk use")
    rc, out, err = run("log", "fsck", d)
    check(rc == 0 and out.strip().endswith("clean"), "fsck of a clean log exits 0: " + out.strip())
    check("1000 entries" in out and "1 signed sizes" in out, "fsck counts what it checked")

    # A changed byte in an old full data tile: open does not read it, fsck must.
    p = os.path.join(d, "tile", "data", "001")
    with open(p, "r+b") as f:
        f.seek(10)
        b = f.read(1)
        f.seek(10)
        f.write(bytes([b[0] ^ 0x40]))
    rc, out, err = run("log", "fsck", d)
    check(rc == 1, "fsck of a corrupted log exits 1 (%d)" % rc)
    check("problem: tile/data/001" in out, "and names the tile: " + out.splitlines()[0])

    rc, out, err = run("log", "fsck", os.path.join(tmp, "missing"))
    check(rc == 2 and err.count("\n") == 1 and "missing" in err, "missing directory exits 2: " + err.strip())
    rc, out, err = run("log", "info")
    check(rc == 2 and "birch log:" in err, "usage error exits 2")
    rc, out, err = run("log", "frob", d)
    check(rc == 2 and "unknown subcommand" in err, "unknown subcommand exits 2")
    rc, out, err = run("log", "--help")
    check(rc == 0 and "fsck" in out, "--help")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed else 0)
