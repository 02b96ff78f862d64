package io.otc.session

import java.time.Duration
import java.util.concurrent.Executor

/**
 * A signaling session (`otc_session`), shaped like the Android SDK's `com.opentok.android.Session`.
 *
 * Build it with [Builder], set listeners, then [connect] with a token. Events arrive on the library's
 * dispatcher thread and are handed to the [Executor] given to the builder (run directly by default).
 * Every method may be called from inside a listener, including [disconnect] and [close].
 * [close] frees the native session; a session that is never closed is freed when it is garbage-collected.
 */
class Session private constructor(builder: Builder) : AutoCloseable {

    /** Connection lifecycle of the own client (`on_connected`, `on_disconnected`, `on_error`). */
    interface SessionListener {
        /** Joined the session; [Session.connection] is now the own connection. */
        fun onConnected(session: Session)
        /** The own connection ended; always the last event of a connection. */
        fun onDisconnected(session: Session, reason: DisconnectReason)
        /** An asynchronous failure: a failed connect, a refused moderation, a failed signal... */
        fun onError(session: Session, error: SessionError)
    }

    /** Other clients joining and leaving (not sent when connection events are suppressed). */
    interface ConnectionListener {
        /** Another client is in the session (each one present at connect, then each that joins). */
        fun onConnectionCreated(session: Session, connection: Connection)
        /** Another client left, for [reason]. */
        fun onConnectionDestroyed(session: Session, connection: Connection, reason: DisconnectReason)
    }

    /** Network loss and recovery of the own connection. */
    interface ReconnectionListener {
        /** The network was lost; the library is trying to resume. */
        fun onReconnecting(session: Session)
        /** The resume succeeded with the same connection. */
        fun onReconnected(session: Session)
    }

    /** Signals from other clients ([connection] set) or from the server ([connection] null). */
    fun interface SignalListener {
        /** A signal of [type] carrying [data] arrived. */
        fun onSignalReceived(session: Session, type: String, data: String, connection: Connection?)
    }

    /**
     * Settings of a new session (`otc_session_settings`) for the session [sessionId] (the one the tokens are
     * for: the library checks it on connect). Unset values keep the library's defaults.
     */
    class Builder(private val sessionId: String) {
        private var connectionEventsSuppressed: Boolean? = null
        private var connectTimeout: Duration? = null
        private var pingInterval: Duration? = null
        private var reconnectionWindow: Duration? = null
        private var clientData: String? = null
        private var trustedCaPem: String? = null
        private var executor: Executor = Executor { it.run() }

        /** When true, [ConnectionListener] is never called. */
        fun connectionEventsSuppressed(suppressed: Boolean) = apply { connectionEventsSuppressed = suppressed }
        /** How long a connect attempt may take before it fails. */
        fun connectTimeout(timeout: Duration) = apply { connectTimeout = nonNegative(timeout, "connectTimeout") }
        /** Interval between keepalive pings. */
        fun pingInterval(interval: Duration) = apply { pingInterval = nonNegative(interval, "pingInterval") }
        /** How long to keep trying to resume after a network loss. */
        fun reconnectionWindow(window: Duration) =
            apply { reconnectionWindow = nonNegative(window, "reconnectionWindow") }
        /** The client metadata other clients see as [Connection.clientData]. */
        fun clientData(data: String) = apply { clientData = data }
        /** Extra trusted CA certificates (PEM) for `wss://` servers. */
        fun trustedCaPem(pem: String) = apply { trustedCaPem = pem }
        /** Where listener calls run (directly on the library's dispatcher thread by default). */
        fun executor(executor: Executor) = apply { this.executor = executor }

        /** Creates the session. Throws [OtcException] when the library refuses a setting. */
        fun build(): Session = Session(this)

        /** Applies the settings to a native settings object and creates the native session with it. */
        internal fun createNative(sink: EventSink): Long {
            val settings = Native.settingsNew()
            if (settings == 0L) throw OtcException(ErrorCode.INVALID_PARAMETER, "otc_session_settings_new failed")
            try {
                connectionEventsSuppressed?.let {
                    ErrorCode.check(Native.settingsSetConnectionEventsSuppressed(settings, it))
                }
                connectTimeout?.let { ErrorCode.check(Native.settingsSetConnectTimeoutMs(settings, it.toMillis())) }
                pingInterval?.let { ErrorCode.check(Native.settingsSetPingIntervalMs(settings, it.toMillis())) }
                reconnectionWindow?.let {
                    ErrorCode.check(Native.settingsSetReconnectionWindowMs(settings, it.toMillis()))
                }
                clientData?.let { ErrorCode.check(Native.settingsSetClientData(settings, Utf8.encode(it, "clientData"))) }
                trustedCaPem?.let {
                    ErrorCode.check(Native.settingsSetTrustedCaPem(settings, Utf8.encode(it, "trustedCaPem")))
                }
                val out = LongArray(1)
                ErrorCode.check(Native.sessionNew(Utf8.encode(sessionId, "sessionId"), settings, sink, out))
                return out[0]
            } finally {
                Native.settingsDelete(settings)
            }
        }

        internal val chosenExecutor: Executor get() = executor

        private fun nonNegative(d: Duration, what: String): Duration {
            require(!d.isNegative) { "$what must not be negative" }
            return d
        }
    }

    private val sink = EventSink(this, builder.chosenExecutor)
    private val native = NativeSession(builder.createNative(sink))
    private val cleanable = Connection.CLEANER.register(this, native)

    /** Listener for the own connection's lifecycle. */
    var sessionListener: SessionListener?
        get() = sink.sessionListener
        set(value) { sink.sessionListener = value }

    /** Listener for other clients joining and leaving. */
    var connectionListener: ConnectionListener?
        get() = sink.connectionListener
        set(value) { sink.connectionListener = value }

    /** Listener for network loss and recovery. */
    var reconnectionListener: ReconnectionListener?
        get() = sink.reconnectionListener
        set(value) { sink.reconnectionListener = value }

    /** Listener for received signals. */
    var signalListener: SignalListener?
        get() = sink.signalListener
        set(value) { sink.signalListener = value }

    /** Starts connecting with [token]; the result arrives as [SessionListener.onConnected] or `onError`. */
    fun connect(token: String) = native.call { ErrorCode.check(Native.sessionConnect(it, Utf8.encode(token, "token"))) }

    /** Leaves the session; [SessionListener.onDisconnected] follows. */
    fun disconnect() = native.call { ErrorCode.check(Native.sessionDisconnect(it)) }

    /**
     * Sends a signal to everyone ([to] null) or to one connection. With [retryAfterReconnect] (the default) a
     * signal sent while reconnecting is queued until the resume; otherwise it fails at once.
     */
    fun sendSignal(type: String, data: String, to: Connection? = null, retryAfterReconnect: Boolean = true) {
        val t = Utf8.encode(type, "type")
        val d = Utf8.encode(data, "data")
        native.call { ErrorCode.check(Native.sessionSendSignal(it, t, d, to?.handle ?: 0L, retryAfterReconnect)) }
    }

    /** Forces [connection] out of the session (needs the MODERATOR role). */
    fun forceDisconnect(connection: Connection) =
        native.call { ErrorCode.check(Native.sessionForceDisconnect(it, connection.handle)) }

    /** The session id given to the [Builder]. */
    val sessionId: String? get() = native.call { Utf8.decode(Native.sessionId(it)) }

    /** The own connection while connected, else null. */
    val connection: Connection? get() = native.call { Connection.fromHandle(Native.sessionConnection(it)) }

    /** A snapshot of the other clients in the session. */
    val connections: List<Connection>
        get() = native.call { h ->
            val status = IntArray(1)
            val handles = Native.sessionConnections(h, status)
            ErrorCode.check(status[0])
            (handles ?: LongArray(0)).map { Connection.fromHandle(it) }.filterNotNull()
        }

    /** What the own connection's role allows. */
    val capabilities: Capabilities
        get() = native.call {
            val out = BooleanArray(4)
            ErrorCode.check(Native.sessionCapabilities(it, out))
            Capabilities(publish = out[0], subscribe = out[1], forceDisconnect = out[2], forceUnpublish = out[3])
        }

    /** Frees the native session: no listener runs after this returns (or after the calling listener returns). */
    override fun close() = cleanable.clean()

    /** What a role allows (`otc_session_capabilities`). */
    data class Capabilities(
        val publish: Boolean,
        val subscribe: Boolean,
        val forceDisconnect: Boolean,
        val forceUnpublish: Boolean,
    )

    /**
     * Owns the native pointer. It is also the cleanup action, so it must not reference the [Session].
     * Calls run under a short lock so that [run] (delete) never frees the pointer under a running call;
     * the delete itself runs outside the lock, because it may wait for a listener that calls back in.
     */
    private class NativeSession(private val pointer: Long) : Runnable {
        private val lock = Any()
        private var live = true

        fun <T> call(block: (Long) -> T): T = synchronized(lock) {
            check(live) { "the session is closed" }
            block(pointer)
        }

        override fun run() {
            synchronized(lock) {
                if (!live) return
                live = false
            }
            Native.sessionDelete(pointer)
        }
    }

    /** Library-wide queries. */
    companion object {
        /** The native library's version string. */
        val version: String get() = Utf8.decode(Native.version()) ?: ""

        /** Native sessions whose release hook has not run yet (a leak check for tests and diagnostics). */
        val liveNativeSessions: Int get() = Native.liveSessions()
    }
}
