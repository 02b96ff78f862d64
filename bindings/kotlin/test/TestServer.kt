package io.otc.session.test

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.Base64
import java.util.concurrent.TimeUnit

/** A token with the connection id the server assigned to it. */
data class Token(val token: String, val connectionId: String)

/** The real otc-server as a child process, and a tiny client of its OpenVidu 2.x REST API. */
class TestServer(binary: File, private val secret: String) : AutoCloseable {
    private val process: Process = ProcessBuilder(binary.path, "--listen", "127.0.0.1:0")
        .also { it.environment()["OPENVIDU_SECRET"] = secret }
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start()

    /** `http://127.0.0.1:PORT`, read from the server's first stdout line. */
    val httpUrl: String

    init {
        val reader = BufferedReader(InputStreamReader(process.inputStream))
        val first = reader.readLine() ?: error("otc-server exited before printing its address")
        val prefix = "otc-server listening on "
        check(first.startsWith(prefix)) { "unexpected first line from otc-server: $first" }
        httpUrl = first.removePrefix(prefix).trim()
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread({ reader.useLines { lines -> lines.forEach { } } }, "otc-server-stdout").apply { isDaemon = true }.start()
    }

    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
    private val auth = "Basic " + Base64.getEncoder().encodeToString("OPENVIDUAPP:$secret".toByteArray())

    /** Calls the REST API; returns the status code and body. */
    fun rest(method: String, path: String, json: String? = null): Pair<Int, String> {
        val body = if (json == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofString(json)
        val request = HttpRequest.newBuilder(URI.create("$httpUrl/openvidu/api$path"))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .method(method, body)
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    /** Creates a session with [id]. */
    fun createSession(id: String) {
        val (status, body) = rest("POST", "/sessions", """{"customSessionId":"$id"}""")
        check(status == 200) { "create session: $status $body" }
    }

    /** Creates a connection (token) in [sessionId] with [role] and server data [data]. */
    fun createToken(sessionId: String, role: String, data: String): Token {
        val (status, body) = rest("POST", "/sessions/$sessionId/connection", """{"role":"$role","data":"$data"}""")
        check(status == 200) { "create connection: $status $body" }
        return Token(jsonString(body, "token"), jsonString(body, "connectionId"))
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        /** Extracts a top-level string field (enough for the flat fields read here). */
        fun jsonString(json: String, field: String): String {
            val match = Regex("\"" + Regex.escape(field) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").find(json)
                ?: error("no string field $field in $json")
            return match.groupValues[1].replace("\\/", "/").replace("\\\"", "\"").replace("\\\\", "\\")
        }
    }
}
