package io.otc.session

/** Why a connection left the session, or why the own connection ended (`otc_disconnect_reason`). */
enum class DisconnectReason {
    /** The client called disconnect. */
    CLIENT_DISCONNECTED,
    /** A moderator forced it out. */
    FORCE_DISCONNECTED_BY_MODERATOR,
    /** The server's REST API forced it out. */
    FORCE_DISCONNECTED_BY_SERVER,
    /** The server closed the whole session. */
    SESSION_CLOSED,
    /** The network was lost and the reconnection window ran out. */
    NETWORK_LOST,
    /** The server stopped. */
    SERVER_STOPPED,
    /** A reason this library does not know (the native library logs the raw string). */
    UNKNOWN;

    internal companion object {
        /** Maps the name the JNI shim derives from the C enum constant; unknown names map to [UNKNOWN]. */
        fun fromNativeName(name: String): DisconnectReason =
            entries.firstOrNull { it.name == name } ?: UNKNOWN
    }
}
