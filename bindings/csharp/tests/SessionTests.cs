using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace Otc.Session.Tests
{
    /// <summary>A SynchronizationContext that runs posted work on one dedicated thread (like a UI loop).</summary>
    internal sealed class LoopContext : SynchronizationContext
    {
        private readonly BlockingCollection<KeyValuePair<SendOrPostCallback, object>> queue =
            new BlockingCollection<KeyValuePair<SendOrPostCallback, object>>();
        public readonly Thread Thread;

        public LoopContext()
        {
            Thread = new Thread(() =>
            {
                foreach (KeyValuePair<SendOrPostCallback, object> work in queue.GetConsumingEnumerable()) work.Key(work.Value);
            });
            Thread.IsBackground = true;
            Thread.Start();
        }

        public override void Post(SendOrPostCallback d, object state)
        {
            queue.Add(new KeyValuePair<SendOrPostCallback, object>(d, state));
        }
    }

    internal static class SessionTests
    {
        private static int passed;
        private static int failed;

        private static void Test(string name, Action body)
        {
            try
            {
                body();
                passed++;
                Console.WriteLine("ok - " + name);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL - " + name + ": " + e);
            }
        }

        private static void Expect(bool condition, string message)
        {
            if (!condition) throw new Exception(message);
        }

        private static T ExpectThrows<T>(string what, Action body) where T : Exception
        {
            try
            {
                body();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e);
            }
            throw new Exception(what + ": expected " + typeof(T).Name + ", nothing was thrown");
        }

        private static void ExpectStatus(int code, string what, Action body)
        {
            OtcException e = ExpectThrows<OtcException>(what, body);
            Expect(e.Code == code, what + ": expected status " + code + ", got " + e.Code + " (" + e.Message + ")");
        }

        private static void WaitUntil(string what, Func<bool> condition)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(30);
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) throw new Exception("timed out waiting for " + what);
                Thread.Sleep(100);
            }
        }

        private static bool IsSignal(Ev e, string type) { return e.Kind == "Signal" && e.Type == type; }

        private static bool Is(Ev e, string kind, string connectionId)
        {
            return e.Kind == kind && e.Connection != null && e.Connection.ConnectionId == connectionId;
        }

        /// <summary>A session with a recorder attached, connected with <paramref name="token"/>.</summary>
        private static Session Joined(string name, Token token, string sessionId, SessionSettings settings, out Recorder recorder)
        {
            recorder = new Recorder(name);
            Session session = recorder.Attach(new Session(sessionId, settings));
            session.Connect(token.Value);
            recorder.Await(name + " connected", e => e.Kind == "Connected");
            return session;
        }

        /// <summary>Creates, connects and abandons a session (no Dispose); returns a weak reference to it.</summary>
        private static WeakReference AbandonedSession(TestServer server, string sessionId)
        {
            Recorder r;
            Session s = Joined("abandoned", server.CreateToken(sessionId, "PUBLISHER", "abandoned"), sessionId, null, out r);
            return new WeakReference(s);
        }

        public static int Main(string[] args)
        {
            if (args.Length < 1)
            {
                Console.Error.WriteLine("usage: SessionTests.exe <path to otc-server>");
                return 2;
            }
            using (TestServer server = new TestServer(args[0], "csharp-secret"))
            {
                RunAll(server);
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 && passed > 0 ? 0 : 1;
        }

        private static void RunAll(TestServer server)
        {
            string sid = "csharp-" + DateTime.UtcNow.Ticks;
            server.CreateSession(sid);
            Token modToken = server.CreateToken(sid, "MODERATOR", "moderator-data");
            Session mod = null;
            Recorder modEvents = null;

            Test("library version is reported", () =>
            {
                Expect(!string.IsNullOrEmpty(Session.Version), "empty version");
            });

            Test("connect: Connected, own connection is the token's, role gives capabilities, events on the context", () =>
            {
                LoopContext loop = new LoopContext();
                SessionSettings settings = new SessionSettings();
                settings.ClientData = "mod-client";
                settings.SynchronizationContext = loop;
                mod = Joined("moderator", modToken, sid, settings, out modEvents);
                Ev connected = modEvents.Await("connected", e => e.Kind == "Connected");
                Expect(connected.ThreadId == loop.Thread.ManagedThreadId, "event not raised on the context's thread");
                Connection own = mod.Connection;
                Expect(own != null, "no own connection");
                Expect(own.ConnectionId == modToken.ConnectionId, "own id " + own.ConnectionId + " != " + modToken.ConnectionId);
                Expect(own.ClientData == "mod-client", "own clientData " + own.ClientData);
                Expect(mod.SessionId == sid, "session id " + mod.SessionId);
                Expect(mod.Capabilities.ForceDisconnect, "moderator cannot force disconnect");
            });

            Token pubToken = server.CreateToken(sid, "PUBLISHER", "publisher-data");
            Session pub = null;
            Recorder pubEvents = null;
            Test("ConnectionCreated for a client that joins, with its data; never for the own connection", () =>
            {
                SessionSettings settings = new SessionSettings();
                settings.ClientData = "pub-client";
                pub = Joined("publisher", pubToken, sid, settings, out pubEvents);
                Ev created = modEvents.Await("publisher created", e => Is(e, "Created", pubToken.ConnectionId));
                Expect(created.Connection.ServerData == "publisher-data", "serverData " + created.Connection.ServerData);
                Expect(created.Connection.ClientData == "pub-client", "clientData " + created.Connection.ClientData);
                Ev seenByPub = pubEvents.Await("moderator created", e => Is(e, "Created", modToken.ConnectionId));
                Expect(seenByPub.Connection.SessionId == sid, "sessionId " + seenByPub.Connection.SessionId);
                Expect(!modEvents.All().Exists(e => Is(e, "Created", modToken.ConnectionId)), "own connection reported as created");
                Expect(mod.Connections.Count >= 1 && new List<Connection>(mod.Connections).Exists(c => c.ConnectionId == pubToken.ConnectionId),
                    "publisher missing from the roster");
                Expect(!pub.Capabilities.ForceDisconnect, "publisher may force disconnect");
            });

            Test("Signal to everyone reaches the others with its sender", () =>
            {
                string text = "hello all \u2713 \U0001F600";
                mod.SendSignal("chat", text);
                Ev s = pubEvents.Await("chat signal", e => IsSignal(e, "chat"));
                Expect(s.Data == text, "data " + s.Data);
                Expect(s.Connection != null && s.Connection.ConnectionId == modToken.ConnectionId, "wrong sender");
            });

            Token thirdToken = server.CreateToken(sid, "PUBLISHER", "third-data");
            Session third = null;
            Recorder thirdEvents = null;
            Test("Signal to one connection reaches only it (no retry after reconnect)", () =>
            {
                third = Joined("third", thirdToken, sid, null, out thirdEvents);
                Connection target = modEvents.Await("third created", e => Is(e, "Created", thirdToken.ConnectionId)).Connection;
                mod.SendSignal("direct", "only for third", target, false);
                Ev s = thirdEvents.Await("direct signal", e => IsSignal(e, "direct"));
                Expect(s.Data == "only for third", "data " + s.Data);
                mod.SendSignal("marker", "");
                pubEvents.Await("marker", e => IsSignal(e, "marker"));
                Expect(!pubEvents.All().Exists(e => IsSignal(e, "direct")), "publisher got the direct signal");
            });

            Test("bad signal input is refused with its status and changes nothing", () =>
            {
                ExpectStatus(StatusCode.InvalidSignalType, "type with a space", () => mod.SendSignal("bad type", "x"));
                ExpectStatus(StatusCode.SignalTypeTooLong, "long type", () => mod.SendSignal(new string('t', 129), "x"));
                ExpectStatus(StatusCode.SignalDataTooLong, "long data", () => mod.SendSignal("chat", new string('d', 8193)));
                ExpectThrows<ArgumentException>("NUL in data", () => mod.SendSignal("chat", "a\0b"));
                ExpectThrows<ArgumentNullException>("null type", () => mod.SendSignal(null, "x"));
                mod.SendSignal("after-bad", "still works");
                pubEvents.Await("after-bad", e => IsSignal(e, "after-bad"));
            });

            Test("a signal from the server arrives with no sender", () =>
            {
                string body;
                int status = server.Rest("POST", "/signal",
                    "{\"session\":\"" + sid + "\",\"type\":\"server-note\",\"data\":\"from rest\"}", out body);
                Expect(status == 200, "REST signal: " + status + " " + body);
                Ev s = pubEvents.Await("server signal", e => IsSignal(e, "server-note") || IsSignal(e, "signal:server-note"));
                Expect(s.Connection == null, "server signal has a sender");
                Expect(s.Data == "from rest", "data " + s.Data);
            });

            Test("ForceDisconnect without the moderator role fails with 1520", () =>
            {
                Connection target = new List<Connection>(pub.Connections).Find(c => c.ConnectionId == modToken.ConnectionId);
                Expect(target != null, "moderator missing from the publisher's roster");
                try
                {
                    pub.ForceDisconnect(target);
                    pubEvents.Await("force error", e => e.Kind == "Error" && e.Code == StatusCode.UnableToForceDisconnect);
                }
                catch (OtcException e)
                {
                    Expect(e.Code == StatusCode.UnableToForceDisconnect, "status " + e.Code);
                }
                Expect(!modEvents.All().Exists(e => e.Kind == "Disconnected"), "moderator was disconnected");
            });

            Test("forced disconnect by a moderator: both sides get ForceDisconnectedByModerator", () =>
            {
                Connection target = new List<Connection>(mod.Connections).Find(c => c.ConnectionId == thirdToken.ConnectionId);
                mod.ForceDisconnect(target);
                Ev gone = thirdEvents.Await("third disconnected", e => e.Kind == "Disconnected");
                Expect(gone.Reason == DisconnectReason.ForceDisconnectedByModerator, "third saw " + gone.Reason);
                Ev dropped = modEvents.Await("third dropped", e => Is(e, "Dropped", thirdToken.ConnectionId));
                Expect(dropped.Reason == DisconnectReason.ForceDisconnectedByModerator, "mod saw " + dropped.Reason);
                third.Dispose();
            });

            Test("a client that disconnects is dropped with ClientDisconnected; its own Disconnected is last", () =>
            {
                pub.Disconnect();
                Ev own = pubEvents.Await("pub disconnected", e => e.Kind == "Disconnected");
                Expect(own.Reason == DisconnectReason.ClientDisconnected, "pub saw " + own.Reason);
                Ev dropped = modEvents.Await("pub dropped", e => Is(e, "Dropped", pubToken.ConnectionId));
                Expect(dropped.Reason == DisconnectReason.ClientDisconnected, "mod saw " + dropped.Reason);
                Thread.Sleep(300);
                List<Ev> all = pubEvents.All();
                Expect(all[all.Count - 1].Kind == "Disconnected", "events after Disconnected");
                pub.Dispose();
            });

            Test("REST force disconnect: dropped with ForceDisconnectedByServer", () =>
            {
                Token token = server.CreateToken(sid, "PUBLISHER", "rest-kicked");
                Recorder victimEvents;
                Session victim = Joined("rest-victim", token, sid, null, out victimEvents);
                modEvents.Await("victim created", e => Is(e, "Created", token.ConnectionId));
                string body;
                int status = server.Rest("DELETE", "/sessions/" + sid + "/connection/" + token.ConnectionId, null, out body);
                Expect(status == 204, "REST force disconnect: " + status + " " + body);
                Ev gone = victimEvents.Await("victim disconnected", e => e.Kind == "Disconnected");
                Expect(gone.Reason == DisconnectReason.ForceDisconnectedByServer, "victim saw " + gone.Reason);
                Ev dropped = modEvents.Await("victim dropped", e => Is(e, "Dropped", token.ConnectionId));
                Expect(dropped.Reason == DisconnectReason.ForceDisconnectedByServer, "mod saw " + dropped.Reason);
                victim.Dispose();
            });

            Test("with connection events suppressed, no ConnectionCreated or ConnectionDropped is raised", () =>
            {
                SessionSettings quietSettings = new SessionSettings();
                quietSettings.ConnectionEventsSuppressed = true;
                Recorder quietEvents;
                Session quiet = Joined("suppressed", server.CreateToken(sid, "PUBLISHER", "quiet"), sid, quietSettings, out quietEvents);
                Token token = server.CreateToken(sid, "PUBLISHER", "comes-and-goes");
                Recorder visitorEvents;
                Session visitor = Joined("visitor", token, sid, null, out visitorEvents);
                modEvents.Await("visitor created", e => Is(e, "Created", token.ConnectionId));
                visitor.Disconnect();
                modEvents.Await("visitor dropped", e => Is(e, "Dropped", token.ConnectionId));
                mod.SendSignal("barrier", "");
                quietEvents.Await("barrier", e => IsSignal(e, "barrier"));
                Expect(!quietEvents.All().Exists(e => e.Kind == "Created" || e.Kind == "Dropped"), "connection events arrived");
                visitor.Dispose();
                quiet.Dispose();
            });

            Test("Disconnect and Dispose from inside event handlers", () =>
            {
                Token token = server.CreateToken(sid, "PUBLISHER", "self-closing");
                int liveBefore = Session.LiveNativeSessions;
                Recorder recorder = new Recorder("self-closing");
                Session session = recorder.Attach(new Session(sid));
                recorder.OnEvent = (s, e) =>
                {
                    if (IsSignal(e, "please-leave")) s.Disconnect();
                    if (e.Kind == "Disconnected") s.Dispose();
                };
                session.Connect(token.Value);
                recorder.Await("connected", e => e.Kind == "Connected");
                Expect(Session.LiveNativeSessions == liveBefore + 1, "live sessions " + Session.LiveNativeSessions);
                Connection target = modEvents.Await("self-closing created", e => Is(e, "Created", token.ConnectionId)).Connection;
                mod.SendSignal("please-leave", "", target);
                Ev gone = recorder.Await("disconnected", e => e.Kind == "Disconnected");
                Expect(gone.Reason == DisconnectReason.ClientDisconnected, "reason " + gone.Reason);
                WaitUntil("release hook after Dispose in a handler", () => Session.LiveNativeSessions == liveBefore);
                ExpectThrows<ObjectDisposedException>("call after Dispose", () => session.SendSignal("chat", "x"));
                session.Dispose(); // a second Dispose is a no-op
            });

            Test("a bad token raises Error and no Disconnected", () =>
            {
                Recorder recorder = new Recorder("bad-token");
                SessionSettings settings = new SessionSettings();
                settings.ConnectTimeout = TimeSpan.FromSeconds(10);
                using (Session session = recorder.Attach(new Session(sid, settings)))
                {
                    string badToken = System.Text.RegularExpressions.Regex.Replace(modToken.Value, "token=[^&]*", "token=tok_doesnotexist");
                    session.Connect(badToken);
                    Ev e = recorder.Await("error", x => x.Kind == "Error");
                    Expect(e.Code == StatusCode.AuthorizationFailure, "code " + e.Code + ": " + e.Data);
                    Thread.Sleep(300);
                    Expect(!recorder.All().Exists(x => x.Kind == "Connected" || x.Kind == "Disconnected"), "connected or disconnected");
                }
            });

            Test("bad constructor and call input is refused", () =>
            {
                int liveBefore = Session.LiveNativeSessions;
                ExpectStatus(StatusCode.InvalidParameter, "empty session id", () => new Session(""));
                ExpectThrows<ArgumentNullException>("null session id", () => new Session(null));
                SessionSettings zero = new SessionSettings();
                zero.ConnectTimeout = TimeSpan.Zero;
                ExpectStatus(StatusCode.InvalidParameter, "zero connect timeout", () => new Session(sid, zero));
                SessionSettings negative = new SessionSettings();
                negative.PingInterval = TimeSpan.FromSeconds(-1);
                ExpectThrows<ArgumentOutOfRangeException>("negative ping interval", () => new Session(sid, negative));
                Expect(Session.LiveNativeSessions == liveBefore, "a refused constructor left a native session");
                using (Session session = new Session(sid))
                {
                    ExpectThrows<ArgumentException>("NUL in token", () => session.Connect("ws://x\0y"));
                    ExpectThrows<OtcException>("signal before connect", () => session.SendSignal("chat", "x"));
                    Expect(session.Connection == null, "own connection before connect");
                }
            });

            Test("an undisposed Session is garbage-collected without a crash, then the library still works", () =>
            {
                int liveBefore = Session.LiveNativeSessions;
                // Created on a thread that then exits, so that no stale stack slot (Mono scans stacks
                // conservatively) keeps the session reachable.
                WeakReference weak = null;
                Exception failure = null;
                Thread creator = new Thread(() =>
                {
                    try { weak = AbandonedSession(server, sid); }
                    catch (Exception e) { failure = e; }
                });
                creator.Start();
                creator.Join();
                if (failure != null) throw failure;
                // Poll only the native count: reading weak.IsAlive would put the session on this thread's
                // stack, where Mono's conservative scan could keep finding it. The count drops only once the
                // SafeHandle's finalizer deleted the native session, i.e. once the session was collected.
                WaitUntil("the abandoned session to be collected and released", () =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    return Session.LiveNativeSessions == liveBefore;
                });
                Expect(!weak.IsAlive, "the native session was released but the Session is still alive");
                Token token = server.CreateToken(sid, "PUBLISHER", "after-gc");
                Recorder afterEvents;
                using (Session after = Joined("after-gc", token, sid, null, out afterEvents))
                {
                    mod.SendSignal("after-gc", "more work");
                    afterEvents.Await("signal after gc", e => IsSignal(e, "after-gc"));
                }
            });

            Test("the moderator disconnects last; Dispose frees every native session", () =>
            {
                mod.Disconnect();
                Ev gone = modEvents.Await("moderator disconnected", e => e.Kind == "Disconnected");
                Expect(gone.Reason == DisconnectReason.ClientDisconnected, "reason " + gone.Reason);
                mod.Dispose();
                WaitUntil("every native session released", () => Session.LiveNativeSessions == 0);
                Expect(modEvents.All().FindAll(e => e.Kind == "Connected").Count == 1, "connected more than once");
            });
        }
    }
}
