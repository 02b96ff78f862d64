import Foundation

/// The events of a `Session`, shaped like the OpenTok iOS SDK's `OTSessionDelegate`. Called on the
/// session's `delegateQueue` (main by default). Every method except the first three has an empty default.
public protocol SessionDelegate: AnyObject {
    /// Joined the session; `session.connection` is now the own connection.
    func sessionDidConnect(_ session: Session)
    /// The own connection ended; always the last event of a connection.
    func sessionDidDisconnect(_ session: Session, reason: DisconnectReason)
    /// An asynchronous failure: a failed connect, a refused moderation, a failed signal...
    func session(_ session: Session, didFailWithError error: OtcError)
    /// Another client is in the session (each one present at connect, then each that joins).
    func session(_ session: Session, connectionCreated connection: Connection)
    /// Another client left.
    func session(_ session: Session, connectionDestroyed connection: Connection, reason: DisconnectReason)
    /// A signal arrived; `connection` is nil when the server sent it.
    func session(_ session: Session, receivedSignalType type: String, from connection: Connection?, with string: String)
    /// The network was lost; the library is trying to resume.
    func sessionDidBeginReconnecting(_ session: Session)
    /// The resume succeeded with the same connection.
    func sessionDidReconnect(_ session: Session)
}

public extension SessionDelegate {
    func session(_ session: Session, connectionCreated connection: Connection) {}
    func session(_ session: Session, connectionDestroyed connection: Connection, reason: DisconnectReason) {}
    func session(_ session: Session, receivedSignalType type: String, from connection: Connection?, with string: String) {}
    func sessionDidBeginReconnecting(_ session: Session) {}
    func sessionDidReconnect(_ session: Session) {}
}
