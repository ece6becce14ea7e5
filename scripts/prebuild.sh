#!/bin/sh
# Build the native addon's prebuilt binaries into prebuilds/, as `npm pack`
# and `npm publish` run it (the prepack script), so that installing the
# package needs no compiler: node-gyp-build (src/native.ts) loads
# prebuilds/<platform>-<arch>/plogkit.<libc>.node at run time.
#
# One binary per platform serves every Node version: the addon uses Node-API
# only (NAPI_VERSION in binding.gyp), never V8's or Node's C++ ABI.
#
#   linux-x64   glibc  the host's cc (or x86_64-linux-gnu-gcc elsewhere)
#   linux-x64   musl   musl-gcc (Debian: musl-tools), with the kernel's
#                      headers for openat2(2)
#   linux-arm64 glibc  aarch64-linux-gnu-gcc (Debian: gcc-aarch64-linux-gnu,
#                      libc6-dev-arm64-cross), or the host's cc on arm64
#   linux-arm64 musl   aarch64-linux-musl-gcc, when one is on the PATH
#                      (Debian has no such cross compiler)
#
# Glibc builds need glibc 2.28 or later at run time, as Node 20 itself does.
# A target whose compiler is missing is left out with a warning; `npm
# publish` (or PLOGKIT_PREBUILDS=all) refuses to go on without all of the
# first three. Elsewhere the package builds from source at install
# (node-gyp-build's fallback), as before.
#
# The binaries are built here, from native/ as it is, and never committed:
# a committed binary would silently fall behind a change of the C source.
# postpack removes them again, so that no old prebuild lingers in a
# checkout (node-gyp-build would load it where build/ is missing).
# Each is built in a scratch copy, so that this checkout's own build/ (what
# the tests load) is left as it is.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

prebuildify=$root/node_modules/.bin/prebuildify
[ -x "$prebuildify" ] || { echo "prebuild: $prebuildify is missing: run npm ci first" >&2; exit 1; }

# node-gyp: npm's own (npm puts it on PATH for its scripts; the same
# directory of npm's when this is run by hand).
if ! command -v node-gyp >/dev/null 2>&1; then
  PATH=$(dirname "$(readlink -f "$(command -v npm)")")/node-gyp-bin:$PATH
  export PATH
fi

# Node's headers, never downloaded: npm's nodedir setting, else the headers
# installed beside this node (official tarballs and distributions' -dev
# packages have include/node/node_api.h there).
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
case $nodedir in undefined|null) nodedir= ;; esac
if [ -z "$nodedir" ]; then
  prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  [ -f "$prefix/include/node/node_api.h" ] && nodedir=$prefix
fi
if [ -n "$nodedir" ]; then
  npm_config_nodedir=$nodedir
  export npm_config_nodedir
fi
nodever=$(node -p process.versions.node)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir "$scratch/src"
cp -R binding.gyp native package.json "$scratch/src/"

rm -rf prebuilds
missing=
required_missing=
built=

# build ARCH LIBC CC STRIP REQUIRED [CPPFLAGS]
build() {
  arch=$1 libc=$2 cc=$3 strip=$4 required=$5 cppflags=${6:-}
  if ! command -v "$cc" >/dev/null 2>&1; then
    missing="$missing linux-$arch-$libc($cc)"
    [ "$required" = yes ] && required_missing="$required_missing linux-$arch-$libc"
    return 0
  fi
  command -v "$strip" >/dev/null 2>&1 || strip=strip
  echo "prebuild: linux-$arch $libc with $cc" >&2
  # node-gyp links with $(CXX) unless LINK says otherwise: a C addon is
  # compiled and linked by the target's C compiler alone.
  CC=$cc CXX=$cc LINK=$cc CPPFLAGS=$cppflags \
    PREBUILD_LIBC=$libc PREBUILD_STRIP_BIN=$strip \
    "$prebuildify" --napi --strip --tag-libc --arch "$arch" --target "$nodever" \
    --cwd "$scratch/src" --out "$root" --cache "$scratch/gyp" >"$scratch/log" 2>&1 || {
    cat "$scratch/log" >&2
    echo "prebuild: linux-$arch $libc failed" >&2
    exit 1
  }
  built="$built linux-$arch-$libc"
}

case $(uname -m) in
  x86_64) host=x64 x64cc=cc x64strip=strip arm64cc=aarch64-linux-gnu-gcc arm64strip=aarch64-linux-gnu-strip ;;
  aarch64) host=arm64 x64cc=x86_64-linux-gnu-gcc x64strip=x86_64-linux-gnu-strip arm64cc=cc arm64strip=strip ;;
  *) host=other x64cc=x86_64-linux-gnu-gcc x64strip=x86_64-linux-gnu-strip arm64cc=aarch64-linux-gnu-gcc arm64strip=aarch64-linux-gnu-strip ;;
esac

# musl-gcc sees musl's headers only; the kernel's uapi headers (no libc in
# them) give it <linux/openat2.h>, without which the addon would fall back
# to its O_NOFOLLOW walk for every path.
kinc=$scratch/kernel-include
mkdir "$kinc"
for d in /usr/include/linux /usr/include/asm-generic; do
  if [ -d "$d" ]; then ln -s "$d" "$kinc/"; fi
done
asm=$(ls -d /usr/include/*-linux-gnu/asm 2>/dev/null | head -n 1)
if [ -n "$asm" ]; then ln -s "$asm" "$kinc/asm"; fi

build x64 glibc "$x64cc" "$x64strip" yes
if [ "$host" = x64 ]; then
  build x64 musl musl-gcc strip yes "-isystem $kinc"
else
  build x64 musl x86_64-linux-musl-gcc x86_64-linux-musl-strip yes
fi
build arm64 glibc "$arm64cc" "$arm64strip" yes
if [ "$host" = arm64 ]; then
  build arm64 musl musl-gcc strip no "-isystem $kinc"
else
  build arm64 musl aarch64-linux-musl-gcc aarch64-linux-musl-strip no
fi

echo "prebuild: built:$built" >&2
if [ -n "$missing" ]; then
  echo "prebuild: not built (no compiler):$missing" >&2
  if [ -n "$required_missing" ] && { [ "${npm_command:-}" = publish ] || [ "${PLOGKIT_PREBUILDS:-}" = all ]; }; then
    echo "prebuild: refusing to go on without$required_missing" >&2
    exit 1
  fi
fi
