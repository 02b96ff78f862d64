package io.otc.session.example

import io.otc.session.Connection
import io.otc.session.DisconnectReason
import io.otc.session.Session
import io.otc.session.SessionError
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * A tiny chat client: joins [args] `<sessionId> <token>`, prints who comes and goes and every signal,
 * sends "hello" to everyone, and leaves after 30 seconds (or when forced out).
 *
 * Run (after bindings/kotlin/test.sh has built everything):
 *   LD_LIBRARY_PATH=target/debug java -Djava.library.path=bindings/kotlin/build/native \
 *     -cp bindings/kotlin/build/classes:bindings/kotlin/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar \
 *     io.otc.session.example.ExampleKt SESSION_ID TOKEN
 */
fun main(args: Array<String>) {
    if (args.size != 2) {
        System.err.println("usage: Example <sessionId> <token>")
        return
    }
    val done = CountDownLatch(1)
    Session.Builder(args[0]).clientData("kotlin-example").build().use { session ->
        session.sessionListener = object : Session.SessionListener {
            override fun onConnected(session: Session) {
                println("connected as ${session.connection?.connectionId}")
                session.sendSignal("chat", "hello")
            }

            override fun onDisconnected(session: Session, reason: DisconnectReason) {
                println("disconnected: $reason")
                done.countDown()
            }

            override fun onError(session: Session, error: SessionError) {
                println("error ${error.code}: ${error.message}")
                done.countDown()
            }
        }
        session.connectionListener = object : Session.ConnectionListener {
            override fun onConnectionCreated(session: Session, connection: Connection) =
                println("joined: ${connection.connectionId} (${connection.data})")

            override fun onConnectionDestroyed(session: Session, connection: Connection, reason: DisconnectReason) =
                println("left: ${connection.connectionId} ($reason)")
        }
        session.signalListener = Session.SignalListener { _, type, data, from ->
            println("signal $type from ${from?.connectionId ?: "the server"}: $data")
        }
        session.connect(args[1])
        if (!done.await(30, TimeUnit.SECONDS)) session.disconnect()
        done.await(10, TimeUnit.SECONDS)
    }
}
