package io.otc.session.test

import io.otc.session.Connection
import io.otc.session.DisconnectReason
import io.otc.session.ErrorCode
import io.otc.session.OtcException
import io.otc.session.Session
import java.io.File
import java.lang.ref.WeakReference
import java.util.concurrent.Executors
import kotlin.system.exitProcess

/** Runs each check, counts, and prints `N passed, M failed` last. */
private object Checks {
    var passed = 0
    var failed = 0

    fun test(name: String, body: () -> Unit) {
        try {
            body()
            passed++
            println("ok - $name")
        } catch (t: Throwable) {
            failed++
            println("FAIL - $name: $t")
            t.printStackTrace(System.out)
        }
    }
}

private fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

private inline fun <reified T : Throwable> expectThrows(what: String, body: () -> Unit): T {
    try {
        body()
    } catch (t: Throwable) {
        if (t is T) return t
        throw AssertionError("$what: expected ${T::class.simpleName}, got $t")
    }
    throw AssertionError("$what: expected ${T::class.simpleName}, nothing was thrown")
}

private fun expectStatus(code: Int, what: String, body: () -> Unit) {
    val e = expectThrows<OtcException>(what, body)
    expect(e.code == code) { "$what: expected status $code, got ${e.code} (${e.message})" }
}

/** A session with a [Recorder] attached, connected with [token]; waits for onConnected. */
private fun joined(name: String, token: Token, builder: Session.Builder): Pair<Session, Recorder> {
    val recorder = Recorder(name)
    val session = recorder.attach(builder.build())
    session.connect(token.token)
    recorder.await("$name connected") { it as? Ev.Connected }
    return session to recorder
}

/** Creates, connects and abandons a session (no close); returns a weak reference to it. */
private fun abandonedSession(server: TestServer, sessionId: String): WeakReference<Session> {
    val (session, _) = joined("abandoned", server.createToken(sessionId, "PUBLISHER", "abandoned"), Session.Builder(sessionId))
    return WeakReference(session)
}

fun main(args: Array<String>) {
    val serverBinary = File(args.getOrNull(0) ?: error("usage: SessionTest <path to otc-server>"))
    TestServer(serverBinary, "kotlin-secret").use { server -> runAll(server) }
    println("${Checks.passed} passed, ${Checks.failed} failed")
    exitProcess(if (Checks.failed == 0 && Checks.passed > 0) 0 else 1)
}

private fun runAll(server: TestServer) {
    val sid = "kotlin-" + System.currentTimeMillis()
    server.createSession(sid)
    val modToken = server.createToken(sid, "MODERATOR", "moderator-data")
    lateinit var mod: Session
    lateinit var modEvents: Recorder

    Checks.test("library version is reported") {
        expect(Session.version.isNotEmpty()) { "empty version" }
    }

    Checks.test("connect: onConnected, own connection is the token's, role gives capabilities") {
        val dispatch = Executors.newSingleThreadExecutor { r -> Thread(r, "app-executor").apply { isDaemon = true } }
        val pair = joined("moderator", modToken, Session.Builder(sid).clientData("mod-client").executor(dispatch))
        mod = pair.first
        modEvents = pair.second
        val connected = modEvents.await("connected") { it as? Ev.Connected }
        expect(connected.thread == "app-executor") { "listener ran on ${connected.thread}, not the executor" }
        val own = mod.connection ?: throw AssertionError("no own connection")
        expect(own.connectionId == modToken.connectionId) { "own id ${own.connectionId} != ${modToken.connectionId}" }
        expect(own.clientData == "mod-client") { "own clientData ${own.clientData}" }
        expect(mod.sessionId == sid) { "session id ${mod.sessionId}" }
        expect(mod.capabilities.forceDisconnect) { "moderator cannot force disconnect: ${mod.capabilities}" }
    }

    val pubToken = server.createToken(sid, "PUBLISHER", "publisher-data")
    lateinit var pub: Session
    lateinit var pubEvents: Recorder
    Checks.test("connection created for a client that joins, with its data; never for the own connection") {
        val pair = joined("publisher", pubToken, Session.Builder(sid).clientData("pub-client"))
        pub = pair.first
        pubEvents = pair.second
        val created = modEvents.await("publisher created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == pubToken.connectionId }
        }
        expect(created.connection.serverData == "publisher-data") { "serverData ${created.connection.serverData}" }
        expect(created.connection.clientData == "pub-client") { "clientData ${created.connection.clientData}" }
        val seenByPub = pubEvents.await("moderator created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == modToken.connectionId }
        }
        expect(seenByPub.connection.sessionId == sid) { "sessionId ${seenByPub.connection.sessionId}" }
        expect(modEvents.all().none { it is Ev.Created && it.connection.connectionId == modToken.connectionId }) {
            "own connection reported as created"
        }
        expect(mod.connections.any { it.connectionId == pubToken.connectionId }) { "roster: ${mod.connections}" }
        expect(!pub.capabilities.forceDisconnect) { "publisher may force disconnect: ${pub.capabilities}" }
    }

    Checks.test("signal to everyone reaches the others with its sender") {
        mod.sendSignal("chat", "hello all \u2713 \uD83D\uDE00")
        val s = pubEvents.await("chat signal") { (it as? Ev.Signal)?.takeIf { s -> s.type == "chat" } }
        expect(s.data == "hello all \u2713 \uD83D\uDE00") { "data ${s.data}" }
        expect(s.from?.connectionId == modToken.connectionId) { "from ${s.from}" }
    }

    val thirdToken = server.createToken(sid, "PUBLISHER", "third-data")
    lateinit var third: Session
    lateinit var thirdEvents: Recorder
    Checks.test("signal to one connection reaches only it (no retry after reconnect)") {
        val pair = joined("third", thirdToken, Session.Builder(sid))
        third = pair.first
        thirdEvents = pair.second
        val target = modEvents.await("third created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == thirdToken.connectionId }
        }.connection
        mod.sendSignal("direct", "only for third", to = target, retryAfterReconnect = false)
        val s = thirdEvents.await("direct signal") { (it as? Ev.Signal)?.takeIf { s -> s.type == "direct" } }
        expect(s.data == "only for third") { "data ${s.data}" }
        // A later broadcast arrives at pub; the direct one must not have arrived before it.
        mod.sendSignal("marker", "")
        pubEvents.await("marker") { (it as? Ev.Signal)?.takeIf { s -> s.type == "marker" } }
        expect(pubEvents.all().none { it is Ev.Signal && it.type == "direct" }) { "publisher got the direct signal" }
    }

    Checks.test("bad signal input is refused with its status and changes nothing") {
        expectStatus(ErrorCode.INVALID_SIGNAL_TYPE, "type with a space") { mod.sendSignal("bad type", "x") }
        expectStatus(ErrorCode.SIGNAL_TYPE_TOO_LONG, "long type") { mod.sendSignal("t".repeat(129), "x") }
        expectStatus(ErrorCode.SIGNAL_DATA_TOO_LONG, "long data") { mod.sendSignal("chat", "d".repeat(8193)) }
        expectThrows<IllegalArgumentException>("NUL in data") { mod.sendSignal("chat", "a\u0000b") }
        mod.sendSignal("after-bad", "still works")
        pubEvents.await("after-bad") { (it as? Ev.Signal)?.takeIf { s -> s.type == "after-bad" } }
    }

    Checks.test("a signal from the server arrives with no sender") {
        val (status, body) = server.rest("POST", "/signal", """{"session":"$sid","type":"server-note","data":"from rest"}""")
        expect(status == 200) { "REST signal: $status $body" }
        val s = pubEvents.await("server signal") {
            (it as? Ev.Signal)?.takeIf { s -> s.type == "server-note" || s.type == "signal:server-note" }
        }
        expect(s.from == null) { "server signal has a sender: ${s.from}" }
        expect(s.data == "from rest") { "data ${s.data}" }
    }

    Checks.test("force disconnect without the moderator role fails with 1520") {
        val target = mod.connection ?: throw AssertionError("no own connection")
        val asPub = pub.connections.first { it.connectionId == target.connectionId }
        try {
            pub.forceDisconnect(asPub)
            val e = pubEvents.await("force error") { (it as? Ev.Error)?.takeIf { e -> e.error.code == 1520 } }
            expect(e.error.code == ErrorCode.UNABLE_TO_FORCE_DISCONNECT) { "code ${e.error.code}" }
        } catch (e: OtcException) {
            expect(e.code == ErrorCode.UNABLE_TO_FORCE_DISCONNECT) { "status ${e.code}" }
        }
        expect(modEvents.all().none { it is Ev.Disconnected }) { "moderator was disconnected" }
    }

    Checks.test("forced disconnect by a moderator: both sides get FORCE_DISCONNECTED_BY_MODERATOR") {
        val target = mod.connections.first { it.connectionId == thirdToken.connectionId }
        mod.forceDisconnect(target)
        val gone = thirdEvents.await("third disconnected") { it as? Ev.Disconnected }
        expect(gone.reason == DisconnectReason.FORCE_DISCONNECTED_BY_MODERATOR) { "third saw ${gone.reason}" }
        val dropped = modEvents.await("third dropped") {
            (it as? Ev.Dropped)?.takeIf { d -> d.connection.connectionId == thirdToken.connectionId }
        }
        expect(dropped.reason == DisconnectReason.FORCE_DISCONNECTED_BY_MODERATOR) { "mod saw ${dropped.reason}" }
        third.close()
    }

    Checks.test("a client that disconnects is dropped with CLIENT_DISCONNECTED; its own onDisconnected is last") {
        pub.disconnect()
        val own = pubEvents.await("pub disconnected") { it as? Ev.Disconnected }
        expect(own.reason == DisconnectReason.CLIENT_DISCONNECTED) { "pub saw ${own.reason}" }
        val dropped = modEvents.await("pub dropped") {
            (it as? Ev.Dropped)?.takeIf { d -> d.connection.connectionId == pubToken.connectionId }
        }
        expect(dropped.reason == DisconnectReason.CLIENT_DISCONNECTED) { "mod saw ${dropped.reason}" }
        Thread.sleep(300)
        expect(pubEvents.all().last() is Ev.Disconnected) { "events after onDisconnected: ${pubEvents.all()}" }
        pub.close()
    }

    Checks.test("REST force disconnect: dropped with FORCE_DISCONNECTED_BY_SERVER") {
        val token = server.createToken(sid, "PUBLISHER", "rest-kicked")
        val (victim, victimEvents) = joined("rest-victim", token, Session.Builder(sid))
        modEvents.await("victim created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == token.connectionId }
        }
        val (status, body) = server.rest("DELETE", "/sessions/$sid/connection/${token.connectionId}")
        expect(status == 204) { "REST force disconnect: $status $body" }
        val gone = victimEvents.await("victim disconnected") { it as? Ev.Disconnected }
        expect(gone.reason == DisconnectReason.FORCE_DISCONNECTED_BY_SERVER) { "victim saw ${gone.reason}" }
        val dropped = modEvents.await("victim dropped") {
            (it as? Ev.Dropped)?.takeIf { d -> d.connection.connectionId == token.connectionId }
        }
        expect(dropped.reason == DisconnectReason.FORCE_DISCONNECTED_BY_SERVER) { "mod saw ${dropped.reason}" }
        victim.close()
    }

    Checks.test("with connection events suppressed, no connection created or dropped arrives") {
        val (quiet, quietEvents) = joined(
            "suppressed", server.createToken(sid, "PUBLISHER", "quiet"),
            Session.Builder(sid).connectionEventsSuppressed(true),
        )
        val token = server.createToken(sid, "PUBLISHER", "comes-and-goes")
        val (visitor, _) = joined("visitor", token, Session.Builder(sid))
        modEvents.await("visitor created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == token.connectionId }
        }
        visitor.disconnect()
        modEvents.await("visitor dropped") {
            (it as? Ev.Dropped)?.takeIf { d -> d.connection.connectionId == token.connectionId }
        }
        mod.sendSignal("barrier", "")
        quietEvents.await("barrier") { (it as? Ev.Signal)?.takeIf { s -> s.type == "barrier" } }
        expect(quietEvents.all().none { it is Ev.Created || it is Ev.Dropped }) { "${quietEvents.all()}" }
        visitor.close()
        quiet.close()
    }

    Checks.test("disconnect and close from inside listeners") {
        val token = server.createToken(sid, "PUBLISHER", "self-closing")
        val liveBefore = Session.liveNativeSessions
        val recorder = Recorder("self-closing")
        val session = recorder.attach(Session.Builder(sid).build())
        recorder.onEvent = { s, e ->
            if (e is Ev.Signal && e.type == "please-leave") s.disconnect()
            if (e is Ev.Disconnected) s.close()
        }
        session.connect(token.token)
        recorder.await("connected") { it as? Ev.Connected }
        expect(Session.liveNativeSessions == liveBefore + 1) { "live sessions ${Session.liveNativeSessions}" }
        val target = modEvents.await("self-closing created") {
            (it as? Ev.Created)?.takeIf { c -> c.connection.connectionId == token.connectionId }
        }.connection
        mod.sendSignal("please-leave", "", to = target)
        val gone = recorder.await("disconnected") { it as? Ev.Disconnected }
        expect(gone.reason == DisconnectReason.CLIENT_DISCONNECTED) { "reason ${gone.reason}" }
        waitUntil("release hook after close in a listener") { Session.liveNativeSessions == liveBefore }
        expectThrows<IllegalStateException>("call after close") { session.sendSignal("chat", "x") }
        session.close() // a second close is a no-op
    }

    Checks.test("a bad token reports onError and no onDisconnected") {
        val recorder = Recorder("bad-token")
        Session.Builder(sid).connectTimeout(java.time.Duration.ofSeconds(10)).build().use { session ->
            recorder.attach(session)
            val badToken = modToken.token.replace(Regex("token=[^&]*"), "token=tok_doesnotexist")
            session.connect(badToken)
            val e = recorder.await("error") { it as? Ev.Error }
            expect(e.error.code == ErrorCode.AUTHORIZATION_FAILURE) { "code ${e.error.code}: ${e.error.message}" }
            Thread.sleep(300)
            expect(recorder.all().none { it is Ev.Connected || it is Ev.Disconnected }) { "${recorder.all()}" }
        }
    }

    Checks.test("bad builder and call input is refused") {
        expectThrows<IllegalArgumentException>("negative timeout") {
            Session.Builder(sid).connectTimeout(java.time.Duration.ofSeconds(-1))
        }
        val liveBefore = Session.liveNativeSessions
        expectStatus(ErrorCode.INVALID_PARAMETER, "empty session id") { Session.Builder("").build() }
        expectStatus(ErrorCode.INVALID_PARAMETER, "zero connect timeout") {
            Session.Builder(sid).connectTimeout(java.time.Duration.ZERO).build()
        }
        expect(Session.liveNativeSessions == liveBefore) { "a refused build left a native session" }
        Session.Builder(sid).build().use { session ->
            expectThrows<IllegalArgumentException>("NUL in token") { session.connect("ws://x\u0000y") }
            expectThrows<OtcException>("signal before connect") { session.sendSignal("chat", "x") }
            expect(session.connection == null) { "own connection before connect" }
        }
    }

    Checks.test("an unclosed Session is garbage-collected without a crash, then the library still works") {
        val liveBefore = Session.liveNativeSessions
        val weak = abandonedSession(server, sid)
        waitUntil("the abandoned session to be collected and released") {
            System.gc()
            weak.get() == null && Session.liveNativeSessions == liveBefore
        }
        val token = server.createToken(sid, "PUBLISHER", "after-gc")
        val (after, afterEvents) = joined("after-gc", token, Session.Builder(sid))
        mod.sendSignal("after-gc", "more work")
        afterEvents.await("signal after gc") { (it as? Ev.Signal)?.takeIf { s -> s.type == "after-gc" } }
        after.close()
    }

    Checks.test("the moderator disconnects last; close frees every native session") {
        mod.disconnect()
        val gone = modEvents.await("moderator disconnected") { it as? Ev.Disconnected }
        expect(gone.reason == DisconnectReason.CLIENT_DISCONNECTED) { "reason ${gone.reason}" }
        mod.close()
        waitUntil("every native session released") { Session.liveNativeSessions == 0 }
        expect(modEvents.all().count { it is Ev.Connected } == 1) { "connected count ${modEvents.all()}" }
    }
}

/** Polls [condition] (every 100 ms, up to 30 s). */
private fun waitUntil(what: String, condition: () -> Boolean) {
    val deadline = System.currentTimeMillis() + 30_000
    while (!condition()) {
        if (System.currentTimeMillis() > deadline) throw AssertionError("timed out waiting for $what")
        Thread.sleep(100)
    }
}
