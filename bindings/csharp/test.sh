#!/usr/bin/env bash
# Builds the library and the server, compiles the C# wrapper and its test with Mono's mcs, and runs the test
# against the real otc-server. Exits non-zero on any failure. Installs Mono when missing (quietly).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/debug"
cd "$here"

if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq mono-mcs mono-runtime >/dev/null
fi

(cd "$root" && cargo build --quiet -p otc-session -p otc-server)

rm -rf build
mkdir -p build
# The wrapper as a library (what an app references), then the test and the example against it.
mcs -nologo -warnaserror -target:library -doc:build/Otc.Session.xml -out:build/Otc.Session.dll src/*.cs
mcs -nologo -warnaserror -r:build/Otc.Session.dll -out:build/SessionTests.exe tests/*.cs
mcs -nologo -warnaserror -r:build/Otc.Session.dll -out:build/Example.exe example/*.cs

LD_LIBRARY_PATH="$target${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    mono --debug build/SessionTests.exe "$target/otc-server"
