import COtcSession
import Foundation

/// Why a connection left, or why the own connection ended (`enum otc_disconnect_reason`).
public enum DisconnectReason: Equatable {
    /// The client called disconnect.
    case clientDisconnected
    /// A moderator forced it out.
    case forceDisconnectedByModerator
    /// The server's REST API forced it out.
    case forceDisconnectedByServer
    /// The server closed the whole session.
    case sessionClosed
    /// The network was lost and the reconnection window ran out.
    case networkLost
    /// The server stopped.
    case serverStopped
    /// A reason the library does not know (it logs the raw string).
    case unknown

    init(_ reason: otc_disconnect_reason) {
        switch reason {
        case OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED: self = .clientDisconnected
        case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_MODERATOR: self = .forceDisconnectedByModerator
        case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_SERVER: self = .forceDisconnectedByServer
        case OTC_DISCONNECT_REASON_SESSION_CLOSED: self = .sessionClosed
        case OTC_DISCONNECT_REASON_NETWORK_LOST: self = .networkLost
        case OTC_DISCONNECT_REASON_SERVER_STOPPED: self = .serverStopped
        default: self = .unknown
        }
    }
}

/// A failure: `code` is the `otc_status` (e.g. 1011 invalid parameter, 1004 authorization failure).
public struct OtcError: Error, Equatable, CustomStringConvertible {
    /// The `otc_status` value.
    public let code: Int32
    /// The library's description of it (or the message of an asynchronous error).
    public let message: String

    /// An error with the library's own description of `code`.
    init(status code: Int32) {
        self.code = code
        self.message = String(cString: otc_status_str(code))
    }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (\(code))" }

    /// Throws for a non-zero status.
    static func check(_ status: otc_status) throws {
        if status != OTC_SUCCESS { throw OtcError(status: status) }
    }

    /// A Swift string that would be cut short at an embedded NUL as a C string is refused.
    static func checkNoNul(_ s: String) throws {
        if s.utf8.contains(0) { throw OtcError(status: OTC_SESSION_NULL_OR_INVALID_PARAMETER) }
    }
}

/// What the own connection's role allows (`struct otc_session_capabilities`).
public struct Capabilities: Equatable {
    /// May publish streams.
    public let publish: Bool
    /// May subscribe to streams.
    public let subscribe: Bool
    /// May force other clients out (MODERATOR).
    public let forceDisconnect: Bool
    /// May force streams to unpublish (MODERATOR).
    public let forceUnpublish: Bool
}

/// A client in the session. Owns a native copy (`otc_connection_copy`), freed in `deinit`, so it can be
/// kept and later passed to `Session.signal(type:data:to:)` or `Session.forceDisconnect(_:)`.
public final class Connection: Hashable, CustomStringConvertible {
    let handle: OpaquePointer
    /// The connection id (`con_...`).
    public let connectionId: String
    /// The full metadata string as the server sent it.
    public let data: String
    /// The part of `data` the client set when joining.
    public let clientData: String
    /// The part of `data` the server set when it created the token.
    public let serverData: String
    /// The id of the session this connection belongs to.
    public let sessionId: String
    /// When the connection was created.
    public let creationTime: Date

    /// Copies a borrowed `const otc_connection *`; NULL gives nil.
    init?(copying borrowed: OpaquePointer?) {
        guard let borrowed = borrowed, let copy = otc_connection_copy(borrowed) else { return nil }
        handle = copy
        connectionId = Connection.string(otc_connection_get_id(copy))
        data = Connection.string(otc_connection_get_data(copy))
        clientData = Connection.string(otc_connection_get_client_data(copy))
        serverData = Connection.string(otc_connection_get_server_data(copy))
        sessionId = Connection.string(otc_connection_get_session_id(copy))
        creationTime = Date(timeIntervalSince1970: Double(otc_connection_get_creation_time(copy)) / 1000)
    }

    deinit {
        otc_connection_delete(handle)
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String {
        p.map { String(cString: $0) } ?? ""
    }

    public static func == (a: Connection, b: Connection) -> Bool { a.connectionId == b.connectionId }
    public func hash(into hasher: inout Hasher) { hasher.combine(connectionId) }
    public var description: String { "Connection(\(connectionId), data=\(data))" }
}
