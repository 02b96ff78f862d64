package io.otc.session

/**
 * The JNI entry points, implemented by `jni/otc_jni.c` over `otc_session.h`. Pointers travel as [Long];
 * strings as NUL-terminated UTF-8 byte arrays (see [Utf8]); statuses as `otc_status` ints.
 */
internal object Native {
    init {
        System.loadLibrary("otc_session_jni")
    }

    @JvmStatic external fun statusString(status: Int): ByteArray?
    @JvmStatic external fun version(): ByteArray?

    @JvmStatic external fun settingsNew(): Long
    @JvmStatic external fun settingsDelete(settings: Long)
    @JvmStatic external fun settingsSetConnectionEventsSuppressed(settings: Long, suppressed: Boolean): Int
    @JvmStatic external fun settingsSetConnectTimeoutMs(settings: Long, millis: Long): Int
    @JvmStatic external fun settingsSetPingIntervalMs(settings: Long, millis: Long): Int
    @JvmStatic external fun settingsSetReconnectionWindowMs(settings: Long, millis: Long): Int
    @JvmStatic external fun settingsSetClientData(settings: Long, clientData: ByteArray): Int
    @JvmStatic external fun settingsSetTrustedCaPem(settings: Long, pem: ByteArray): Int

    /** Creates a session delivering its events to [sink]; writes the handle to `out[0]`; returns a status. */
    @JvmStatic external fun sessionNew(sessionId: ByteArray?, settings: Long, sink: EventSink, out: LongArray): Int
    @JvmStatic external fun sessionConnect(session: Long, token: ByteArray): Int
    @JvmStatic external fun sessionDisconnect(session: Long): Int
    @JvmStatic external fun sessionDelete(session: Long)
    /** [connection] 0 sends to everyone. */
    @JvmStatic external fun sessionSendSignal(
        session: Long, type: ByteArray, data: ByteArray, connection: Long, retryAfterReconnect: Boolean,
    ): Int
    @JvmStatic external fun sessionForceDisconnect(session: Long, connection: Long): Int
    @JvmStatic external fun sessionId(session: Long): ByteArray?
    /** A copy of the own connection, 0 when not connected. */
    @JvmStatic external fun sessionConnection(session: Long): Long
    /** Copies of the other connections in the roster; null on failure, with the status in `status[0]`. */
    @JvmStatic external fun sessionConnections(session: Long, status: IntArray): LongArray?
    /** Writes publish, subscribe, forceDisconnect, forceUnpublish to [out]; returns a status. */
    @JvmStatic external fun sessionCapabilities(session: Long, out: BooleanArray): Int
    /** How many native sessions created through this shim have not yet run their release hook. */
    @JvmStatic external fun liveSessions(): Int

    @JvmStatic external fun connectionId(connection: Long): ByteArray?
    @JvmStatic external fun connectionData(connection: Long): ByteArray?
    @JvmStatic external fun connectionClientData(connection: Long): ByteArray?
    @JvmStatic external fun connectionServerData(connection: Long): ByteArray?
    @JvmStatic external fun connectionSessionId(connection: Long): ByteArray?
    @JvmStatic external fun connectionCreationTime(connection: Long): Long
    @JvmStatic external fun connectionDelete(connection: Long)
}
