package io.otc.session.test

import io.otc.session.Connection
import io.otc.session.DisconnectReason
import io.otc.session.Session
import io.otc.session.SessionError
import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/** One event as a listener saw it, with the thread it ran on. */
sealed class Ev {
    var thread: String = Thread.currentThread().name
    class Connected : Ev() { override fun toString() = "Connected" }
    data class Disconnected(val reason: DisconnectReason) : Ev()
    data class Error(val error: SessionError) : Ev()
    data class Created(val connection: Connection) : Ev()
    data class Dropped(val connection: Connection, val reason: DisconnectReason) : Ev()
    data class Signal(val type: String, val data: String, val from: Connection?) : Ev()
    class Reconnecting : Ev() { override fun toString() = "Reconnecting" }
    class Reconnected : Ev() { override fun toString() = "Reconnected" }
}

/**
 * Implements every listener, records what arrives, and lets the test wait for an event (generous timeouts:
 * the machine is slow and noisy). [onEvent] lets a test act from inside a listener.
 */
class Recorder(private val name: String) :
    Session.SessionListener, Session.ConnectionListener, Session.ReconnectionListener, Session.SignalListener {
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()
    private val events = ArrayList<Ev>()

    /** Runs inside the listener call, after the event is recorded. */
    @Volatile var onEvent: ((Session, Ev) -> Unit)? = null

    /** Sets this recorder as every listener of [session]. */
    fun attach(session: Session): Session {
        session.sessionListener = this
        session.connectionListener = this
        session.reconnectionListener = this
        session.signalListener = this
        return session
    }

    private fun add(session: Session, e: Ev) {
        lock.withLock {
            events.add(e)
            changed.signalAll()
        }
        onEvent?.invoke(session, e)
    }

    /** A copy of everything recorded so far. */
    fun all(): List<Ev> = lock.withLock { ArrayList(events) }

    /** Waits for the first recorded event matching [match]; throws after [timeoutMs]. */
    fun <T : Ev> await(what: String, timeoutMs: Long = 20_000, match: (Ev) -> T?): T {
        val deadline = System.currentTimeMillis() + timeoutMs
        lock.withLock {
            while (true) {
                events.firstNotNullOfOrNull(match)?.let { return it }
                val left = deadline - System.currentTimeMillis()
                if (left <= 0) throw AssertionError("$name: timed out waiting for $what; saw ${events}")
                changed.await(left, TimeUnit.MILLISECONDS)
            }
        }
    }

    override fun onConnected(session: Session) = add(session, Ev.Connected())
    override fun onDisconnected(session: Session, reason: DisconnectReason) = add(session, Ev.Disconnected(reason))
    override fun onError(session: Session, error: SessionError) = add(session, Ev.Error(error))
    override fun onConnectionCreated(session: Session, connection: Connection) = add(session, Ev.Created(connection))
    override fun onConnectionDestroyed(session: Session, connection: Connection, reason: DisconnectReason) =
        add(session, Ev.Dropped(connection, reason))
    override fun onReconnecting(session: Session) = add(session, Ev.Reconnecting())
    override fun onReconnected(session: Session) = add(session, Ev.Reconnected())
    override fun onSignalReceived(session: Session, type: String, data: String, connection: Connection?) =
        add(session, Ev.Signal(type, data, connection))
}
