using System;
using System.Collections.Generic;
using System.Threading;

namespace Otc.Session.Tests
{
    /// <summary>One event as a handler saw it, with the thread it ran on.</summary>
    internal sealed class Ev
    {
        public string Kind;
        public DisconnectReason Reason;
        public Connection Connection;
        public string Type;
        public string Data;
        public int Code;
        public int ThreadId = Thread.CurrentThread.ManagedThreadId;

        public override string ToString()
        {
            return Kind + (Connection != null ? "(" + Connection.ConnectionId + ")" : "") +
                (Kind == "Disconnected" || Kind == "Dropped" ? " " + Reason : "") +
                (Type != null ? " " + Type + "=" + Data : "") + (Kind == "Error" ? " " + Code : "");
        }
    }

    /// <summary>
    /// Subscribes to every event of a session, records what arrives, and lets the test wait for an event
    /// (generous timeouts: the machine is slow and noisy). <see cref="OnEvent"/> lets a test act inside a handler.
    /// </summary>
    internal sealed class Recorder
    {
        private readonly string name;
        private readonly List<Ev> events = new List<Ev>();

        /// <summary>Runs inside the handler, after the event is recorded.</summary>
        public Action<Session, Ev> OnEvent;

        public Recorder(string name) { this.name = name; }

        public Session Attach(Session s)
        {
            s.Connected += (o, e) => Add(o, new Ev { Kind = "Connected" });
            s.Disconnected += (o, e) => Add(o, new Ev { Kind = "Disconnected", Reason = e.Reason });
            s.ConnectionCreated += (o, e) => Add(o, new Ev { Kind = "Created", Connection = e.Connection });
            s.ConnectionDropped += (o, e) => Add(o, new Ev { Kind = "Dropped", Connection = e.Connection, Reason = e.Reason });
            s.ReconnectionStart += (o, e) => Add(o, new Ev { Kind = "Reconnecting" });
            s.ReconnectionSuccess += (o, e) => Add(o, new Ev { Kind = "Reconnected" });
            s.Signal += (o, e) => Add(o, new Ev { Kind = "Signal", Type = e.Type, Data = e.Data, Connection = e.From });
            s.Error += (o, e) => Add(o, new Ev { Kind = "Error", Code = e.Code, Data = e.Message });
            return s;
        }

        private void Add(object sender, Ev e)
        {
            lock (events)
            {
                events.Add(e);
                Monitor.PulseAll(events);
            }
            Action<Session, Ev> act = OnEvent;
            if (act != null) act((Session)sender, e);
        }

        /// <summary>A copy of everything recorded so far.</summary>
        public List<Ev> All()
        {
            lock (events) return new List<Ev>(events);
        }

        /// <summary>Waits for the first recorded event matching <paramref name="match"/>.</summary>
        public Ev Await(string what, Func<Ev, bool> match, int timeoutMs = 20000)
        {
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            lock (events)
            {
                while (true)
                {
                    foreach (Ev e in events) if (match(e)) return e;
                    int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (left <= 0)
                    {
                        throw new Exception(name + ": timed out waiting for " + what + "; saw " +
                            string.Join(", ", events.ConvertAll(e => e.ToString()).ToArray()));
                    }
                    Monitor.Wait(events, left);
                }
            }
        }
    }
}
