package io.otc.session

/** A failed call into the native library: [code] is the `otc_status` value (e.g. 1011 invalid parameter). */
class OtcException(val code: Int, message: String) : RuntimeException("$message ($code)")

/** An asynchronous failure reported through [Session.SessionListener.onError] (`on_error`). */
data class SessionError(val code: Int, val message: String)

/** `otc_status` codes a Kotlin caller commonly tests for, numbered as in `otc_session.h`. */
object ErrorCode {
    /** Bad or already used token. */
    const val AUTHORIZATION_FAILURE = 1004
    /** The server could not be reached or the socket failed. */
    const val CONNECTION_FAILED = 1006
    /** The operation needs a connected session. */
    const val NOT_CONNECTED = 1010
    /** NULL or invalid argument. */
    const val INVALID_PARAMETER = 1011
    /** The call is not allowed in the current state. */
    const val ILLEGAL_STATE = 1015
    /** Signal data longer than 8192 bytes. */
    const val SIGNAL_DATA_TOO_LONG = 1413
    /** Signal type longer than 128 characters. */
    const val SIGNAL_TYPE_TOO_LONG = 1414
    /** Signal type with characters outside `[A-Za-z0-9-_~.]`. */
    const val INVALID_SIGNAL_TYPE = 1461
    /** Force disconnect without the moderator role, or refused by the server. */
    const val UNABLE_TO_FORCE_DISCONNECT = 1520

    /** Throws [OtcException] for a non-zero status, with the library's own description of it. */
    internal fun check(status: Int) {
        if (status != 0) throw OtcException(status, Utf8.decode(Native.statusString(status)) ?: "error")
    }
}
