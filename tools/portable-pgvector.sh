#!/usr/bin/env bash
# Rebuild the embedded PostgreSQL's pgvector for any x86-64 CPU.
#
# The pgserver wheel's vector.so was compiled with pgvector's default `-march=native` on a machine with AVX-512, so on
# a CPU without it (AMD EPYC Zen 2/3, many laptops) building an HNSW index kills the server with SIGILL. This compiles
# the same pgvector release from source with `OPTFLAGS=""` (pgvector's documented portable build; its AVX-512 code
# paths stay, chosen at run time) and puts it in place of the wheel's. The source comes from Debian's archive, checked
# against its SHA-256. Needs gcc and make.
#
# Usage: tools/portable-pgvector.sh .venv/bin/python
set -euo pipefail

python=${1:?usage: $0 path/to/venv/python}
version=0.8.2
sha256=69f4019389af05dc1c9548deb8628e62878e6e207c03907f2b8af2016472cdaa
url=http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${version}.orig.tar.gz

pginstall=$("$python" -c 'import pathlib, pgserver; print(pathlib.Path(pgserver.__file__).parent / "pginstall")')
shipped=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$pginstall/share/postgresql/extension/vector.control")
if [ "$shipped" != "$version" ]; then
  echo "pgserver ships pgvector $shipped, this script builds $version: update version and sha256 here" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --max-time 120 --output "$work/pgvector.tar.gz" "$url"
echo "$sha256  $work/pgvector.tar.gz" | sha256sum --check --quiet
tar -xzf "$work/pgvector.tar.gz" -C "$work"

# The wheel's headers were configured on a C library that has <xlocale.h>; glibc >= 2.26 has it in <locale.h>.
mkdir "$work/include"
echo '#include <locale.h>' >"$work/include/xlocale.h"

make --silent -C "$work/pgvector-$version" -j 2 OPTFLAGS="" PG_CONFIG="$pginstall/bin/pg_config" \
  PG_CPPFLAGS="-I$work/include" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
install -m 755 "$work/pgvector-$version/vector.so" "$pginstall/lib/postgresql/vector.so"
echo "pgvector $version rebuilt (portable build) in $pginstall"
