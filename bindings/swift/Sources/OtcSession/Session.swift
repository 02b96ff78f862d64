import COtcSession
import Foundation

/// Settings of a new `Session` (`otc_session_settings`); nil values keep the library's defaults.
public struct SessionSettings {
    /// When true, `connectionCreated` / `connectionDestroyed` are never delivered.
    public var connectionEventsSuppressed: Bool?
    /// How long a connect attempt may take before it fails, in seconds.
    public var connectTimeout: TimeInterval?
    /// Interval between keepalive pings, in seconds.
    public var pingInterval: TimeInterval?
    /// How long to keep trying to resume after a network loss, in seconds.
    public var reconnectionWindow: TimeInterval?
    /// The client metadata other clients see as `Connection.clientData`.
    public var clientData: String?
    /// Extra trusted CA certificates (PEM) for `wss://` servers.
    public var trustedCAPEM: String?

    /// Default settings.
    public init() {}
}

/// A signaling session (`otc_session`). Set a `delegate`, then `connect(token:)`. Events are delivered on
/// `delegateQueue` (main by default). The native session is deleted in `deinit`; any method may be called
/// from a delegate method.
public final class Session {
    /// Receives the session's events (held weakly, like `OTSession.delegate`).
    public var delegate: SessionDelegate? {
        get { context.delegate }
        set { context.delegate = newValue }
    }

    /// The queue the delegate is called on.
    public let delegateQueue: DispatchQueue

    /// The session id given to `init`.
    public let sessionId: String

    private let handle: OpaquePointer
    private let context: CallbackContext

    /// A session for `sessionId` (the one the tokens are for; the library checks it on connect).
    /// Throws `OtcError` when the library refuses the id or a setting.
    public init(sessionId: String, settings: SessionSettings = SessionSettings(), delegate: SessionDelegate? = nil,
                delegateQueue: DispatchQueue = .main) throws {
        try OtcError.checkNoNul(sessionId)
        guard let nativeSettings = otc_session_settings_new() else {
            throw OtcError(status: OTC_SESSION_INTERNAL_ERROR)
        }
        defer { otc_session_settings_delete(nativeSettings) }
        try Session.apply(settings, to: nativeSettings)

        let context = CallbackContext(queue: delegateQueue)
        context.delegate = delegate
        var callbacks = CallbackContext.table()
        // The library owns one retain of the context until its release hook (`on_release`) runs.
        let userData = Unmanaged.passRetained(context).toOpaque()
        callbacks.user_data = userData
        guard let handle = otc_session_new_with_settings(nil, sessionId, &callbacks, nativeSettings) else {
            // No session: the release hook never runs, so give the retain back here.
            Unmanaged<CallbackContext>.fromOpaque(userData).release()
            throw OtcError(status: OTC_SESSION_NULL_OR_INVALID_PARAMETER)
        }
        self.handle = handle
        self.context = context
        self.delegateQueue = delegateQueue
        self.sessionId = sessionId
        context.session = self
    }

    deinit {
        // No callback of this session runs after this returns; the release hook frees the context.
        otc_session_delete(handle)
    }

    /// Starts connecting; the result arrives as `sessionDidConnect` or `session(_:didFailWithError:)`.
    public func connect(withToken token: String) throws {
        try OtcError.checkNoNul(token)
        try OtcError.check(otc_session_connect(handle, token))
    }

    /// Connects and returns once joined; throws the connect failure. The delegate is told as well.
    public func connect(token: String) async throws {
        try OtcError.checkNoNul(token)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            context.setPendingConnect(continuation)
            let status = otc_session_connect(handle, token)
            if status != OTC_SUCCESS {
                context.finishPendingConnect(with: .failure(OtcError(status: status)))
            }
        }
    }

    /// Leaves the session; `sessionDidDisconnect` follows.
    public func disconnect() throws {
        try OtcError.check(otc_session_disconnect(handle))
    }

    /// Sends a signal to everyone (`to` nil) or to one connection. With `retryAfterReconnect` (the default)
    /// a signal sent while reconnecting is queued until the resume; otherwise it fails at once.
    public func signal(type: String, data: String, to connection: Connection? = nil,
                       retryAfterReconnect: Bool = true) throws {
        try OtcError.checkNoNul(type)
        try OtcError.checkNoNul(data)
        let options = otc_signal_options(retry_after_reconnect: retryAfterReconnect ? OTC_TRUE : OTC_FALSE)
        if let connection = connection {
            try OtcError.check(otc_session_send_signal_to_connection_with_options(handle, type, data,
                                                                                  connection.handle, options))
        } else {
            try OtcError.check(otc_session_send_signal_with_options(handle, type, data, options))
        }
    }

    /// Forces `connection` out of the session (MODERATOR role).
    public func forceDisconnect(_ connection: Connection) throws {
        try OtcError.check(otc_session_force_disconnect(handle, connection.handle))
    }

    /// The own connection while connected, else nil.
    public var connection: Connection? {
        Connection(copying: otc_session_get_connection(handle))
    }

    /// A snapshot of the other clients in the session.
    public func connections() throws -> [Connection] {
        var roster: OpaquePointer?
        try OtcError.check(otc_session_get_roster(handle, &roster))
        defer { otc_roster_delete(roster) }
        return (0..<otc_roster_get_count(roster)).compactMap { Connection(copying: otc_roster_get_connection(roster, $0)) }
    }

    /// What the own connection's role allows (all false when not connected).
    public func capabilities() throws -> Capabilities {
        var caps = otc_session_capabilities()
        try OtcError.check(otc_session_get_capabilities(handle, &caps))
        return Capabilities(publish: caps.publish != 0, subscribe: caps.subscribe != 0,
                            forceDisconnect: caps.force_disconnect != 0, forceUnpublish: caps.force_unpublish != 0)
    }

    /// The native library's version.
    public static var version: String { String(cString: otc_version()) }

    private static func apply(_ settings: SessionSettings, to native: OpaquePointer) throws {
        if let suppressed = settings.connectionEventsSuppressed {
            try OtcError.check(otc_session_settings_set_connection_events_suppressed(native, suppressed ? OTC_TRUE : OTC_FALSE))
        }
        if let seconds = settings.connectTimeout {
            try OtcError.check(otc_session_settings_set_connect_timeout(native, try milliseconds(seconds)))
        }
        if let seconds = settings.pingInterval {
            try OtcError.check(otc_session_settings_set_ping_interval(native, try milliseconds(seconds)))
        }
        if let seconds = settings.reconnectionWindow {
            try OtcError.check(otc_session_settings_set_reconnection_window(native, try milliseconds(seconds)))
        }
        if let clientData = settings.clientData {
            try OtcError.checkNoNul(clientData)
            try OtcError.check(otc_session_settings_set_client_data(native, clientData))
        }
        if let pem = settings.trustedCAPEM {
            let bytes = Array(pem.utf8)
            try OtcError.check(otc_session_settings_add_ca_pem(native, bytes, bytes.count))
        }
    }

    private static func milliseconds(_ seconds: TimeInterval) throws -> UInt32 {
        let ms = (seconds * 1000).rounded()
        guard ms >= 0, ms <= Double(UInt32.max) else { throw OtcError(status: OTC_SESSION_NULL_OR_INVALID_PARAMETER) }
        return UInt32(ms)
    }
}
