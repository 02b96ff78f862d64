// A tiny chat client: `OtcSessionExample SESSION_ID TOKEN` joins, prints who comes and goes and every
// signal, says "hello", and leaves after 30 seconds (or when forced out).
import Foundation
import OtcSession

final class Printer: SessionDelegate {
    func sessionDidConnect(_ session: Session) {
        print("connected as \(session.connection?.connectionId ?? "?")")
    }

    func sessionDidDisconnect(_ session: Session, reason: DisconnectReason) {
        print("disconnected: \(reason)")
        exit(0)
    }

    func session(_ session: Session, didFailWithError error: OtcError) {
        print("error: \(error)")
    }

    func session(_ session: Session, connectionCreated connection: Connection) {
        print("joined: \(connection.connectionId) (\(connection.data))")
    }

    func session(_ session: Session, connectionDestroyed connection: Connection, reason: DisconnectReason) {
        print("left: \(connection.connectionId) (\(reason))")
    }

    func session(_ session: Session, receivedSignalType type: String, from connection: Connection?, with string: String) {
        print("signal \(type) from \(connection?.connectionId ?? "the server"): \(string)")
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write("usage: OtcSessionExample <sessionId> <token>\n".data(using: .utf8)!)
    exit(2)
}
let printer = Printer()
var settings = SessionSettings()
settings.clientData = "swift-example"
let session = try Session(sessionId: arguments[1], settings: settings, delegate: printer)

Task {
    do {
        try await session.connect(token: arguments[2])
        try session.signal(type: "chat", data: "hello")
        try await Task.sleep(nanoseconds: 30_000_000_000)
        try session.disconnect()
    } catch {
        print("failed: \(error)")
        exit(1)
    }
}
dispatchMain() // the delegate queue is the main queue
