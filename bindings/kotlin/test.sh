#!/usr/bin/env bash
# Builds the library and the server, the JNI shim and the Kotlin wrapper, then runs the wrapper's test
# program against the real otc-server. Exits non-zero on any failure. Installs what is missing (quietly).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/debug"
cd "$here"

# --- toolchain: a C compiler, a JDK (17) with JNI headers, and the Kotlin compiler pinned in package-lock.json
need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
java_bin="$(command -v java || true)"
if [ -n "${JAVA_HOME:-}" ] && [ -f "$JAVA_HOME/include/jni.h" ]; then
    java_home="$JAVA_HOME"
elif [ -n "$java_bin" ] && [ -f "$(dirname "$(dirname "$(readlink -f "$java_bin")")")/include/jni.h" ]; then
    java_home="$(dirname "$(dirname "$(readlink -f "$java_bin")")")"
else
    need_apt+=(openjdk-17-jdk-headless)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ -z "${java_home:-}" ]; then
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
fi
if [ ! -x node_modules/kotlin-compiler/bin/kotlinc ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
kotlinc="$here/node_modules/kotlin-compiler/bin/kotlinc"
stdlib="$here/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar"

# --- the library and the server
(cd "$root" && cargo build --quiet -p otc-session -p otc-server)

# --- JNI shim, wrapper, test and example
rm -rf build
mkdir -p build/native build/classes
gcc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared \
    -I"$java_home/include" -I"$java_home/include/linux" -I"$root/include" \
    jni/otc_jni.c -L"$target" -lotc_session -Wl,-rpath,'$ORIGIN' \
    -o build/native/libotc_session_jni.so
if ! JAVA_HOME="$java_home" "$kotlinc" -jvm-target 17 -Werror src test example -d build/classes >build/kotlinc.log 2>&1; then
    cat build/kotlinc.log >&2
    exit 1
fi

# --- run
LD_LIBRARY_PATH="$target${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$java_home/bin/java" -Xcheck:jni -Djava.library.path="$here/build/native" \
    -cp "build/classes:$stdlib" io.otc.session.test.SessionTestKt "$target/otc-server"
