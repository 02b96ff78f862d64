using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Otc.Session.Interop
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ReleaseCallback(IntPtr userData);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void SessionCallback(IntPtr session, IntPtr userData);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void DisconnectedCallback(IntPtr session, IntPtr userData, int reason);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ConnectionCallback(IntPtr session, IntPtr userData, IntPtr connection);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ConnectionDroppedCallback(IntPtr session, IntPtr userData, IntPtr connection, int reason);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void SignalCallback(IntPtr session, IntPtr userData, IntPtr type, IntPtr data, IntPtr from);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ErrorCallback(IntPtr session, IntPtr userData, IntPtr message, int code);

    /// <summary>
    /// The static functions the library calls. Each finds its session's <see cref="EventSink"/> through the
    /// <see cref="GCHandle"/> in <c>user_data</c>. The delegates live in static fields, so the GC never collects
    /// one that native code still points to; being static (not closures) they also work under AOT
    /// (Unity IL2CPP, iOS), which is what <see cref="MonoPInvokeCallbackAttribute"/> is for.
    /// No exception ever propagates into native code.
    /// </summary>
    internal static class Trampolines
    {
        private static readonly ReleaseCallback ReleaseFn = OnRelease;
        private static readonly SessionCallback ConnectedFn = OnConnected;
        private static readonly DisconnectedCallback DisconnectedFn = OnDisconnected;
        private static readonly ConnectionCallback ConnectionCreatedFn = OnConnectionCreated;
        private static readonly ConnectionDroppedCallback ConnectionDroppedFn = OnConnectionDropped;
        private static readonly SignalCallback SignalFn = OnSignal;
        private static readonly SessionCallback ReconnectingFn = OnReconnectionStarted;
        private static readonly SessionCallback ReconnectedFn = OnReconnected;
        private static readonly ErrorCallback ErrorFn = OnError;

        private static int liveSessions;

        /// <summary>Native sessions whose release hook has not run yet.</summary>
        public static int LiveSessions { get { return Volatile.Read(ref liveSessions); } }

        /// <summary>A callbacks table pointing at these trampolines, with <paramref name="userData"/>.</summary>
        public static NativeCallbacks Table(IntPtr userData)
        {
            NativeCallbacks table = new NativeCallbacks();
            table.size = new UIntPtr((uint)Marshal.SizeOf(typeof(NativeCallbacks)));
            table.user_data = userData;
            table.on_release = Marshal.GetFunctionPointerForDelegate(ReleaseFn);
            table.on_connected = Marshal.GetFunctionPointerForDelegate(ConnectedFn);
            table.on_disconnected = Marshal.GetFunctionPointerForDelegate(DisconnectedFn);
            table.on_connection_created = Marshal.GetFunctionPointerForDelegate(ConnectionCreatedFn);
            table.on_connection_dropped = Marshal.GetFunctionPointerForDelegate(ConnectionDroppedFn);
            table.on_signal_received = Marshal.GetFunctionPointerForDelegate(SignalFn);
            table.on_reconnection_started = Marshal.GetFunctionPointerForDelegate(ReconnectingFn);
            table.on_reconnected = Marshal.GetFunctionPointerForDelegate(ReconnectedFn);
            table.on_error = Marshal.GetFunctionPointerForDelegate(ErrorFn);
            return table;
        }

        /// <summary>Counts a native session about to be created (undone by its release hook).</summary>
        public static void SessionCreating() { Interlocked.Increment(ref liveSessions); }

        /// <summary>Undoes <see cref="SessionCreating"/> when the library refused to create the session.</summary>
        public static void SessionRefused() { Interlocked.Decrement(ref liveSessions); }

        private static EventSink Sink(IntPtr userData)
        {
            return (EventSink)GCHandle.FromIntPtr(userData).Target;
        }

        private static void Report(Exception e)
        {
            try
            {
                Console.Error.WriteLine("otc-session: an event handler threw: " + e);
            }
            catch (Exception)
            {
                // Nowhere left to report to; native code must not see the exception.
            }
        }

        [MonoPInvokeCallback(typeof(ReleaseCallback))]
        private static void OnRelease(IntPtr userData)
        {
            try
            {
                GCHandle.FromIntPtr(userData).Free();
                Interlocked.Decrement(ref liveSessions);
            }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(SessionCallback))]
        private static void OnConnected(IntPtr session, IntPtr userData)
        {
            try { Sink(userData).Raise(s => s.RaiseConnected()); }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(DisconnectedCallback))]
        private static void OnDisconnected(IntPtr session, IntPtr userData, int reason)
        {
            try
            {
                DisconnectReason r = ToReason(reason);
                Sink(userData).Raise(s => s.RaiseDisconnected(r));
            }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(ConnectionCallback))]
        private static void OnConnectionCreated(IntPtr session, IntPtr userData, IntPtr connection)
        {
            try
            {
                Connection c = Connection.CopyOf(connection);
                if (c != null) Sink(userData).Raise(s => s.RaiseConnectionCreated(c));
            }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(ConnectionDroppedCallback))]
        private static void OnConnectionDropped(IntPtr session, IntPtr userData, IntPtr connection, int reason)
        {
            try
            {
                Connection c = Connection.CopyOf(connection);
                DisconnectReason r = ToReason(reason);
                if (c != null) Sink(userData).Raise(s => s.RaiseConnectionDropped(c, r));
            }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(SignalCallback))]
        private static void OnSignal(IntPtr session, IntPtr userData, IntPtr type, IntPtr data, IntPtr from)
        {
            try
            {
                string t = Utf8.FromNative(type) ?? "";
                string d = Utf8.FromNative(data) ?? "";
                Connection c = Connection.CopyOf(from);
                Sink(userData).Raise(s => s.RaiseSignal(t, d, c));
            }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(SessionCallback))]
        private static void OnReconnectionStarted(IntPtr session, IntPtr userData)
        {
            try { Sink(userData).Raise(s => s.RaiseReconnectionStart()); }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(SessionCallback))]
        private static void OnReconnected(IntPtr session, IntPtr userData)
        {
            try { Sink(userData).Raise(s => s.RaiseReconnectionSuccess()); }
            catch (Exception e) { Report(e); }
        }

        [MonoPInvokeCallback(typeof(ErrorCallback))]
        private static void OnError(IntPtr session, IntPtr userData, IntPtr message, int code)
        {
            try
            {
                string m = Utf8.FromNative(message) ?? "";
                Sink(userData).Raise(s => s.RaiseError(code, m));
            }
            catch (Exception e) { Report(e); }
        }

        private static DisconnectReason ToReason(int reason)
        {
            return Enum.IsDefined(typeof(DisconnectReason), reason) ? (DisconnectReason)reason : DisconnectReason.Unknown;
        }

        /// <summary>
        /// Where one session's callbacks go: raises the event on the session, directly on the library's thread
        /// or through the app's <see cref="SynchronizationContext"/>. Holds the session weakly, so an
        /// undisposed session can still be collected (its SafeHandle then deletes the native session).
        /// </summary>
        internal sealed class EventSink
        {
            private readonly WeakReference<Session> session;
            private readonly SynchronizationContext context;

            public EventSink(Session session, SynchronizationContext context)
            {
                this.session = new WeakReference<Session>(session);
                this.context = context;
            }

            public void Raise(Action<Session> raise)
            {
                if (context == null)
                {
                    RaiseBelowPad(raise);
                    return;
                }
                // The session is looked up on the context's thread, never held by the library's thread.
                // A handler that throws here throws in the app's context, as any posted work would.
                context.Post(state => RaiseNow(raise), null);
            }

            /// <summary>
            /// Raises with the session only ever held 8 KiB below the trampoline's frame. Mono scans a native
            /// thread's stack conservatively from where it last left managed code, which takes in the dead slots
            /// just below the trampoline: a session raised from there would stay reachable after the app dropped
            /// it, and an undisposed session would never be collected (seen in the test, fixed by this).
            /// </summary>
            [MethodImpl(MethodImplOptions.NoInlining)]
            private void RaiseBelowPad(Action<Session> raise)
            {
                StackPad pad = new StackPad();
                KeepPad(ref pad);
                RaiseNow(raise);
            }

            [MethodImpl(MethodImplOptions.NoInlining)]
            private static void KeepPad(ref StackPad pad) { }

            /// <summary>Stack space skipped by <see cref="RaiseBelowPad"/>.</summary>
            [StructLayout(LayoutKind.Sequential, Size = 8192)]
            private struct StackPad { }

            private void RaiseNow(Action<Session> raise)
            {
                Session target;
                if (session.TryGetTarget(out target)) raise(target);
            }
        }
    }
}
