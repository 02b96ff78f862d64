import COtcSession
import Foundation

/// What the library's callbacks reach through `user_data`: the session (weakly, so the app's last release
/// still deletes it), the delegate (weakly), the delegate queue and a pending `async` connect.
/// The library holds one retain of it (`Unmanaged.passRetained`) until its release hook runs, which is
/// after the session's last callback, so a callback never sees a freed context.
final class CallbackContext {
    let queue: DispatchQueue
    weak var session: Session?

    private let lock = NSLock()
    private weak var delegateStorage: SessionDelegate?
    private var pendingConnect: CheckedContinuation<Void, Error>?

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    var delegate: SessionDelegate? {
        get { lock.lock(); defer { lock.unlock() }; return delegateStorage }
        set { lock.lock(); delegateStorage = newValue; lock.unlock() }
    }

    /// Remembers the continuation of `Session.connect(token:)`; a still pending one fails as superseded.
    func setPendingConnect(_ continuation: CheckedContinuation<Void, Error>) {
        lock.lock()
        let previous = pendingConnect
        pendingConnect = continuation
        lock.unlock()
        previous?.resume(throwing: OtcError(status: OTC_SESSION_ILLEGAL_STATE))
    }

    /// Resumes the pending `async` connect, if any, exactly once.
    func finishPendingConnect(with result: Result<Void, Error>) {
        lock.lock()
        let continuation = pendingConnect
        pendingConnect = nil
        lock.unlock()
        continuation?.resume(with: result)
    }

    /// Calls `body` on the delegate queue with the session and its delegate, if both still exist.
    func deliver(_ body: @escaping (Session, SessionDelegate) -> Void) {
        queue.async { [weak self] in
            guard let self = self, let session = self.session, let delegate = self.delegate else { return }
            body(session, delegate)
        }
    }

    /// The context behind a callback's `user_data` (not retained: the library's retain keeps it alive).
    static func from(_ userData: UnsafeMutableRawPointer?) -> CallbackContext? {
        userData.map { Unmanaged<CallbackContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The C callbacks table. Each entry is a non-capturing closure (a C function pointer); borrowed
    /// arguments (connections, strings) are copied before the callback returns.
    static func table() -> otc_session_callbacks {
        var table = otc_session_callbacks_init()
        table.on_release = { userData in
            guard let userData = userData else { return }
            let context = Unmanaged<CallbackContext>.fromOpaque(userData)
            // Nothing can answer a connect still waiting now: fail it rather than leak the continuation.
            context.takeUnretainedValue().finishPendingConnect(with: .failure(OtcError(status: OTC_SESSION_ILLEGAL_STATE)))
            context.release()
        }
        table.on_connected = { _, userData in
            guard let context = CallbackContext.from(userData) else { return }
            context.finishPendingConnect(with: .success(()))
            context.deliver { session, delegate in delegate.sessionDidConnect(session) }
        }
        table.on_disconnected = { _, userData, reason in
            guard let context = CallbackContext.from(userData) else { return }
            let r = DisconnectReason(reason)
            context.deliver { session, delegate in delegate.sessionDidDisconnect(session, reason: r) }
        }
        table.on_connection_created = { _, userData, connection in
            guard let context = CallbackContext.from(userData), let c = Connection(copying: connection) else { return }
            context.deliver { session, delegate in delegate.session(session, connectionCreated: c) }
        }
        table.on_connection_dropped = { _, userData, connection, reason in
            guard let context = CallbackContext.from(userData), let c = Connection(copying: connection) else { return }
            let r = DisconnectReason(reason)
            context.deliver { session, delegate in delegate.session(session, connectionDestroyed: c, reason: r) }
        }
        table.on_signal_received = { _, userData, signalType, data, from in
            guard let context = CallbackContext.from(userData) else { return }
            let type = signalType.map { String(cString: $0) } ?? ""
            let text = data.map { String(cString: $0) } ?? ""
            let sender = Connection(copying: from)
            context.deliver { session, delegate in
                delegate.session(session, receivedSignalType: type, from: sender, with: text)
            }
        }
        table.on_reconnection_started = { _, userData in
            guard let context = CallbackContext.from(userData) else { return }
            context.deliver { session, delegate in delegate.sessionDidBeginReconnecting(session) }
        }
        table.on_reconnected = { _, userData in
            guard let context = CallbackContext.from(userData) else { return }
            context.deliver { session, delegate in delegate.sessionDidReconnect(session) }
        }
        table.on_error = { _, userData, message, code in
            guard let context = CallbackContext.from(userData) else { return }
            let error = OtcError(code: code, message: message.map { String(cString: $0) } ?? "")
            context.finishPendingConnect(with: .failure(error))
            context.deliver { session, delegate in delegate.session(session, didFailWithError: error) }
        }
        return table
    }
}
