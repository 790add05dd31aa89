#!/bin/sh
# Every public header compiles on its own (STYLE.md): each is included alone into an empty
# translation unit. Usage: test_headers.sh CC SOURCE_ROOT
cc=$1; root=$2; n=0; bad=0
for h in "$root"/storage/*.h "$root"/engine/*.h "$root"/tools/*.h; do
  rel=${h#"$root"/}
  case "$rel" in *_int.h) continue ;; esac  # private to their directory
  n=$((n + 1))
  if ! echo "#include \"$rel\"" | "$cc" -std=gnu11 -Wall -Wextra -Werror -I"$root" -x c -fsyntax-only - ; then
    echo "FAIL $rel does not compile on its own"; bad=$((bad + 1))
  fi
done
echo "$n headers, $bad failed"
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
