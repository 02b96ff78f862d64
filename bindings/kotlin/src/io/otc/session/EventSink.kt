package io.otc.session

import java.lang.ref.WeakReference
import java.util.concurrent.Executor
import java.util.concurrent.RejectedExecutionException

/**
 * Receives the native callbacks (the JNI shim holds it as a global reference until the release hook) and
 * posts each one to the app's [Executor] as a listener call. It holds its [Session] only weakly, so that an
 * unclosed session can still be garbage-collected (its [java.lang.ref.Cleaner] then deletes the native side).
 */
internal class EventSink(session: Session, private val executor: Executor) {
    private val session = WeakReference(session)

    @Volatile var sessionListener: Session.SessionListener? = null
    @Volatile var connectionListener: Session.ConnectionListener? = null
    @Volatile var reconnectionListener: Session.ReconnectionListener? = null
    @Volatile var signalListener: Session.SignalListener? = null

    /** Runs [call] with the session on the executor; drops it when the session is gone or the executor refuses. */
    private fun post(call: (Session) -> Unit) {
        try {
            executor.execute { session.get()?.let(call) }
        } catch (_: RejectedExecutionException) {
            // The app shut its executor down: nobody is listening any more.
        }
    }

    // --- called by jni/otc_jni.c (names and signatures are looked up there) ---

    fun onConnected() = post { s -> sessionListener?.onConnected(s) }

    fun onDisconnected(reason: String) {
        val r = DisconnectReason.fromNativeName(reason)
        post { s -> sessionListener?.onDisconnected(s, r) }
    }

    fun onConnectionCreated(connection: Long) {
        val c = Connection.fromHandle(connection) ?: return
        post { s -> connectionListener?.onConnectionCreated(s, c) }
    }

    fun onConnectionDropped(connection: Long, reason: String) {
        val c = Connection.fromHandle(connection) ?: return
        val r = DisconnectReason.fromNativeName(reason)
        post { s -> connectionListener?.onConnectionDestroyed(s, c, r) }
    }

    fun onSignal(type: ByteArray, data: ByteArray, from: Long) {
        val t = Utf8.decode(type) ?: ""
        val d = Utf8.decode(data) ?: ""
        val c = Connection.fromHandle(from)
        post { s -> signalListener?.onSignalReceived(s, t, d, c) }
    }

    fun onReconnecting() = post { s -> reconnectionListener?.onReconnecting(s) }

    fun onReconnected() = post { s -> reconnectionListener?.onReconnected(s) }

    fun onError(message: ByteArray?, code: Int) {
        val e = SessionError(code, Utf8.decode(message) ?: "")
        post { s -> sessionListener?.onError(s, e) }
    }
}
