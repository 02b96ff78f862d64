#!/usr/bin/env bash
# Builds OtcSession.xcframework (static libotc_session.a + otc_session.h + module map) for iOS devices,
# the iOS simulator (arm64 + x86_64) and macOS (arm64 + x86_64). Run on a Mac with Xcode and rustup:
#
#     bindings/swift/build-xcframework.sh          # writes bindings/swift/OtcSession.xcframework
#     OTC_XCFRAMEWORK=1 swift build                # the package then links the XCFramework
#
# An app can also add the XCFramework to an Xcode project directly and `import COtcSession` / add this
# package's Sources/OtcSession files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$here/OtcSession.xcframework"
work="$target_dir/xcframework"

if [ "$(uname -s)" != "Darwin" ] || ! command -v xcodebuild >/dev/null 2>&1; then
    echo "build-xcframework.sh needs macOS with Xcode (xcodebuild, lipo)" >&2
    exit 1
fi

ios=aarch64-apple-ios
ios_sim=(aarch64-apple-ios-sim x86_64-apple-ios)
macos=(aarch64-apple-darwin x86_64-apple-darwin)

rustup target add "$ios" "${ios_sim[@]}" "${macos[@]}"
for triple in "$ios" "${ios_sim[@]}" "${macos[@]}"; do
    # The release profile keeps panic = "unwind", so the C boundary still catches panics. Only the
    # static library is built: next to the Rust rlib, rustc would keep every Rust symbol exported
    # (see scripts/build-release.sh).
    (cd "$root" && cargo rustc --release -p otc-session --lib --crate-type staticlib --target "$triple")
done

rm -rf "$work" "$out"
mkdir -p "$work/headers" "$work/ios-sim" "$work/macos"
cp "$root/include/otc_session.h" "$work/headers/"
cat > "$work/headers/module.modulemap" <<'MAP'
module COtcSession {
    header "otc_session.h"
    export *
}
MAP

lib() { echo "$target_dir/$1/release/libotc_session.a"; }
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$work/ios-sim/libotc_session.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$work/macos/libotc_session.a"

xcodebuild -create-xcframework \
    -library "$(lib "$ios")" -headers "$work/headers" \
    -library "$work/ios-sim/libotc_session.a" -headers "$work/headers" \
    -library "$work/macos/libotc_session.a" -headers "$work/headers" \
    -output "$out"
echo "wrote $out"
