using System;
using System.Threading;
using Otc.Session;

namespace Otc.Session.Example
{
    /// <summary>
    /// A tiny chat client: joins <c>SESSION_ID TOKEN</c>, prints who comes and goes and every signal, sends
    /// "hello" to everyone, and leaves after 30 seconds (or when forced out).
    /// Run (after bindings/csharp/test.sh built it):
    /// <c>LD_LIBRARY_PATH=target/debug mono bindings/csharp/build/Example.exe SESSION_ID TOKEN</c>
    /// (with bindings/csharp/build/Otc.Session.dll next to it).
    /// </summary>
    internal static class Example
    {
        public static int Main(string[] args)
        {
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: Example.exe <sessionId> <token>");
                return 2;
            }
            ManualResetEvent done = new ManualResetEvent(false);
            SessionSettings settings = new SessionSettings();
            settings.ClientData = "csharp-example";
            using (Session session = new Session(args[0], settings))
            {
                session.Connected += (sender, e) =>
                {
                    Session s = (Session)sender;
                    Console.WriteLine("connected as " + s.Connection.ConnectionId);
                    s.SendSignal("chat", "hello");
                };
                session.Disconnected += (sender, e) =>
                {
                    Console.WriteLine("disconnected: " + e.Reason);
                    done.Set();
                };
                session.Error += (sender, e) =>
                {
                    Console.WriteLine("error " + e.Code + ": " + e.Message);
                    done.Set();
                };
                session.ConnectionCreated += (sender, e) =>
                    Console.WriteLine("joined: " + e.Connection.ConnectionId + " (" + e.Connection.Data + ")");
                session.ConnectionDropped += (sender, e) =>
                    Console.WriteLine("left: " + e.Connection.ConnectionId + " (" + e.Reason + ")");
                session.Signal += (sender, e) =>
                    Console.WriteLine("signal " + e.Type + " from " + (e.From != null ? e.From.ConnectionId : "the server") + ": " + e.Data);
                session.Connect(args[1]);
                if (!done.WaitOne(TimeSpan.FromSeconds(30))) session.Disconnect();
                done.WaitOne(TimeSpan.FromSeconds(10));
            }
            return 0;
        }
    }
}
