package io.otc.session

/**
 * Strings cross JNI as NUL-terminated UTF-8 byte arrays: JNI's own string functions use "modified UTF-8",
 * which mangles characters outside the BMP and NUL.
 */
internal object Utf8 {
    /** Encodes [s] NUL-terminated; a NUL inside [s] would silently truncate it, so it is refused. */
    fun encode(s: String, what: String): ByteArray {
        require(s.indexOf('\u0000') < 0) { "$what must not contain NUL characters" }
        val bytes = s.toByteArray(Charsets.UTF_8)
        return bytes.copyOf(bytes.size + 1)
    }

    /** Decodes bytes copied out of a C string; null stays null. */
    fun decode(bytes: ByteArray?): String? = bytes?.toString(Charsets.UTF_8)
}
