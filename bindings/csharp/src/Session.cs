using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Otc.Session.Interop;

namespace Otc.Session
{
    /// <summary>
    /// A signaling session (<c>otc_session</c>). Subscribe to the events, then <see cref="Connect"/> with a
    /// token. Events are raised on the library's dispatcher thread, or posted to
    /// <see cref="SessionSettings.SynchronizationContext"/> when one is given. Every method may be called from
    /// an event handler, <see cref="Disconnect"/> and <see cref="Dispose"/> included. <see cref="Dispose"/>
    /// frees the native session; an undisposed session is freed when it is garbage-collected.
    /// </summary>
    public sealed class Session : IDisposable
    {
        private readonly SessionHandle handle;

        /// <summary>The own connection joined the session.</summary>
        public event EventHandler Connected;
        /// <summary>The own connection ended; always its last event.</summary>
        public event EventHandler<DisconnectedEventArgs> Disconnected;
        /// <summary>Another client is in the session (each one present at connect, then each that joins).</summary>
        public event EventHandler<ConnectionEventArgs> ConnectionCreated;
        /// <summary>Another client left.</summary>
        public event EventHandler<ConnectionDroppedEventArgs> ConnectionDropped;
        /// <summary>The network was lost; the library is trying to resume.</summary>
        public event EventHandler ReconnectionStart;
        /// <summary>The resume succeeded with the same connection.</summary>
        public event EventHandler ReconnectionSuccess;
        /// <summary>A signal arrived.</summary>
        public event EventHandler<SignalEventArgs> Signal;
        /// <summary>An asynchronous failure: a failed connect, a refused moderation, a failed signal...</summary>
        public event EventHandler<SessionErrorEventArgs> Error;

        /// <summary>A session for <paramref name="sessionId"/> with default settings.</summary>
        public Session(string sessionId) : this(sessionId, null) { }

        /// <summary>
        /// A session for <paramref name="sessionId"/> (the session the tokens are for; checked on connect).
        /// Throws <see cref="OtcException"/> when the library refuses a setting or the id.
        /// </summary>
        public Session(string sessionId, SessionSettings settings)
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            settings = settings ?? new SessionSettings();
            byte[] id = Utf8.ToNative(sessionId, "sessionId");
            using (SettingsHandle nativeSettings = settings.ToNative())
            {
                GCHandle sink = GCHandle.Alloc(new Trampolines.EventSink(this, settings.SynchronizationContext));
                NativeCallbacks callbacks = Trampolines.Table(GCHandle.ToIntPtr(sink));
                Trampolines.SessionCreating();
                handle = NativeMethods.otc_session_new_with_settings(null, id, ref callbacks, nativeSettings);
                if (handle.IsInvalid)
                {
                    // No session: the library never calls the release hook, so free the sink here.
                    sink.Free();
                    Trampolines.SessionRefused();
                    throw new OtcException(StatusCode.InvalidParameter, "the library refused to create the session");
                }
            }
        }

        /// <summary>The library's version string.</summary>
        public static string Version { get { return Utf8.FromNative(NativeMethods.otc_version()); } }

        /// <summary>Native sessions whose release hook has not run yet (a leak check for tests and diagnostics).</summary>
        public static int LiveNativeSessions { get { return Trampolines.LiveSessions; } }

        /// <summary>Starts connecting; the result arrives as <see cref="Connected"/> or <see cref="Error"/>.</summary>
        public void Connect(string token)
        {
            if (token == null) throw new ArgumentNullException("token");
            OtcException.Check(NativeMethods.otc_session_connect(handle, Utf8.ToNative(token, "token")));
        }

        /// <summary>Leaves the session; <see cref="Disconnected"/> follows.</summary>
        public void Disconnect()
        {
            OtcException.Check(NativeMethods.otc_session_disconnect(handle));
        }

        /// <summary>
        /// Sends a signal to everyone (<paramref name="to"/> null) or to one connection. With
        /// <paramref name="retryAfterReconnect"/> (the default) a signal sent while reconnecting is queued until
        /// the resume; otherwise it fails at once.
        /// </summary>
        public void SendSignal(string type, string data, Connection to = null, bool retryAfterReconnect = true)
        {
            if (type == null) throw new ArgumentNullException("type");
            if (data == null) throw new ArgumentNullException("data");
            byte[] t = Utf8.ToNative(type, "type");
            byte[] d = Utf8.ToNative(data, "data");
            NativeSignalOptions options = new NativeSignalOptions();
            options.retry_after_reconnect = retryAfterReconnect ? NativeMethods.OTC_TRUE : NativeMethods.OTC_FALSE;
            int status = to == null
                ? NativeMethods.otc_session_send_signal_with_options(handle, t, d, options)
                : NativeMethods.otc_session_send_signal_to_connection_with_options(handle, t, d, to.Handle, options);
            OtcException.Check(status);
        }

        /// <summary>Forces <paramref name="connection"/> out of the session (MODERATOR role).</summary>
        public void ForceDisconnect(Connection connection)
        {
            if (connection == null) throw new ArgumentNullException("connection");
            OtcException.Check(NativeMethods.otc_session_force_disconnect(handle, connection.Handle));
        }

        /// <summary>The session id given to the constructor.</summary>
        public string SessionId { get { return Utf8.FromNative(NativeMethods.otc_session_get_id(handle)); } }

        /// <summary>The own connection while connected, else null.</summary>
        public Connection Connection
        {
            get
            {
                // The pointer is borrowed from the session: keep the session alive until it is copied.
                bool added = false;
                try
                {
                    handle.DangerousAddRef(ref added);
                    return Connection.CopyOf(NativeMethods.otc_session_get_connection(handle));
                }
                finally
                {
                    if (added) handle.DangerousRelease();
                }
            }
        }

        /// <summary>A snapshot of the other clients in the session.</summary>
        public IList<Connection> Connections
        {
            get
            {
                IntPtr roster;
                OtcException.Check(NativeMethods.otc_session_get_roster(handle, out roster));
                try
                {
                    int count = (int)NativeMethods.otc_roster_get_count(roster).ToUInt32();
                    List<Connection> result = new List<Connection>(count);
                    for (int i = 0; i < count; i++)
                    {
                        Connection c = Connection.CopyOf(NativeMethods.otc_roster_get_connection(roster, new UIntPtr((uint)i)));
                        if (c != null) result.Add(c);
                    }
                    return result;
                }
                finally
                {
                    NativeMethods.otc_roster_delete(roster);
                }
            }
        }

        /// <summary>What the own connection's role allows (all false when not connected).</summary>
        public Capabilities Capabilities
        {
            get
            {
                NativeCapabilities caps;
                OtcException.Check(NativeMethods.otc_session_get_capabilities(handle, out caps));
                Capabilities result = new Capabilities();
                result.Publish = caps.publish != 0;
                result.Subscribe = caps.subscribe != 0;
                result.ForceDisconnect = caps.force_disconnect != 0;
                result.ForceUnpublish = caps.force_unpublish != 0;
                return result;
            }
        }

        /// <summary>
        /// Frees the native session: no event is raised after this returns (or, called from a handler, after
        /// that handler returns). Later calls throw <see cref="ObjectDisposedException"/>. Idempotent.
        /// </summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        // --- raised by Trampolines.EventSink ---

        internal void RaiseConnected() { EventHandler h = Connected; if (h != null) h(this, EventArgs.Empty); }

        internal void RaiseDisconnected(DisconnectReason reason)
        {
            EventHandler<DisconnectedEventArgs> h = Disconnected;
            if (h != null) h(this, new DisconnectedEventArgs(reason));
        }

        internal void RaiseConnectionCreated(Connection connection)
        {
            EventHandler<ConnectionEventArgs> h = ConnectionCreated;
            if (h != null) h(this, new ConnectionEventArgs(connection));
        }

        internal void RaiseConnectionDropped(Connection connection, DisconnectReason reason)
        {
            EventHandler<ConnectionDroppedEventArgs> h = ConnectionDropped;
            if (h != null) h(this, new ConnectionDroppedEventArgs(connection, reason));
        }

        internal void RaiseReconnectionStart() { EventHandler h = ReconnectionStart; if (h != null) h(this, EventArgs.Empty); }

        internal void RaiseReconnectionSuccess() { EventHandler h = ReconnectionSuccess; if (h != null) h(this, EventArgs.Empty); }

        internal void RaiseSignal(string type, string data, Connection from)
        {
            EventHandler<SignalEventArgs> h = Signal;
            if (h != null) h(this, new SignalEventArgs(type, data, from));
        }

        internal void RaiseError(int code, string message)
        {
            EventHandler<SessionErrorEventArgs> h = Error;
            if (h != null) h(this, new SessionErrorEventArgs(code, message));
        }
    }
}
