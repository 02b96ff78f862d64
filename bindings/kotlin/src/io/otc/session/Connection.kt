package io.otc.session

import java.lang.ref.Cleaner

/**
 * A client in the session. Owns a native copy (`otc_connection_copy`) so it can be kept and later passed to
 * [Session.sendSignal] or [Session.forceDisconnect]; the copy is freed by a [Cleaner] once this object is
 * unreachable. The fields are read once, at creation.
 */
class Connection internal constructor(internal val handle: Long) {
    /** The connection id (`con_...`). */
    val connectionId: String = Utf8.decode(Native.connectionId(handle)) ?: ""
    /** The full metadata string as the server sent it. */
    val data: String = Utf8.decode(Native.connectionData(handle)) ?: ""
    /** The part of [data] the client set when joining. */
    val clientData: String = Utf8.decode(Native.connectionClientData(handle)) ?: ""
    /** The part of [data] the server set when it created the token. */
    val serverData: String = Utf8.decode(Native.connectionServerData(handle)) ?: ""
    /** Creation time in milliseconds since the Unix epoch. */
    val creationTime: Long = Native.connectionCreationTime(handle)
    /** The id of the session this connection belongs to. */
    val sessionId: String = Utf8.decode(Native.connectionSessionId(handle)) ?: ""

    init {
        CLEANER.register(this, FreeConnection(handle))
    }

    override fun equals(other: Any?): Boolean = other is Connection && other.connectionId == connectionId
    override fun hashCode(): Int = connectionId.hashCode()
    override fun toString(): String = "Connection($connectionId, data=$data)"

    /** The cleanup action: must not reference the [Connection] itself. */
    private class FreeConnection(private val handle: Long) : Runnable {
        override fun run() = Native.connectionDelete(handle)
    }

    internal companion object {
        /** One cleaner thread for every wrapper object of this library. */
        val CLEANER: Cleaner = Cleaner.create()

        /** Wraps a handle the JNI shim copied; 0 (no connection, e.g. a signal from the server) gives null. */
        fun fromHandle(handle: Long): Connection? = if (handle == 0L) null else Connection(handle)
    }
}
