/* tests/lib/tmpdir.h: temporary directories for tests that write real files. Test-only.
 * tmpdir_make() creates a fresh directory under $TMPDIR (or /tmp) and calls check_harness()
 * (exit 99) when it cannot; tmpdir_remove() deletes a tree (bounded depth) and ignores errors. */
#ifndef BIRCH_TESTS_TMPDIR_H
#define BIRCH_TESTS_TMPDIR_H

/* A new directory "<tmp>/birch-<tag>-XXXXXX"; malloc'd path. */
char *tmpdir_make(const char *tag);
/* rm -rf path (refuses "/" and empty paths). */
void tmpdir_remove(const char *path);
/* Runs "$BIRCH_BIN log fsck DIR" quietly; returns its exit status, or -1 when BIRCH_BIN is
 * unset (the caller then skips that check). */
int tmpdir_fsck(const char *dir);

#endif
