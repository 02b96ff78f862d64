// swift-tools-version:5.7
// The Swift wrapper of otc-session. By default the C library comes from this repository's build
// (`cargo build -p otc-session`, header include/otc_session.h): build with
//     swift build -Xlinker -L../../target/debug
// With OTC_XCFRAMEWORK=1 it uses OtcSession.xcframework made by build-xcframework.sh instead (for apps).
import Foundation
import PackageDescription

let useXCFramework = ProcessInfo.processInfo.environment["OTC_XCFRAMEWORK"] != nil

let cLibrary: Target = useXCFramework
    ? .binaryTarget(name: "COtcSession", path: "OtcSession.xcframework")
    : .systemLibrary(name: "COtcSession", path: "Sources/COtcSession")

let package = Package(
    name: "OtcSession",
    platforms: [.iOS(.v13), .macOS(.v10_15)],
    products: [
        .library(name: "OtcSession", targets: ["OtcSession"]),
    ],
    targets: [
        cLibrary,
        .target(name: "OtcSession", dependencies: ["COtcSession"]),
        .executableTarget(name: "OtcSessionExample", dependencies: ["OtcSession"], path: "Examples/OtcSessionExample"),
    ]
)
