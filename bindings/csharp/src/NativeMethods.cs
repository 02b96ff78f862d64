using System;
using System.Runtime.InteropServices;

namespace Otc.Session.Interop
{
    /// <summary>
    /// The C API of include/otc_session.h as P/Invoke declarations. Strings go in as NUL-terminated UTF-8
    /// byte arrays (see <see cref="Utf8"/>) and come out as pointers copied by <see cref="Utf8.FromNative"/>.
    /// </summary>
    internal static class NativeMethods
    {
#if (UNITY_IOS || UNITY_TVOS) && !UNITY_EDITOR
        /// <summary>Statically linked into the app on iOS.</summary>
        public const string Library = "__Internal";
#else
        /// <summary>libotc_session.so / libotc_session.dylib / otc_session.dll.</summary>
        public const string Library = "otc_session";
#endif

        public const int OTC_SUCCESS = 0;
        public const int OTC_FALSE = 0;
        public const int OTC_TRUE = 1;

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_status_str(int status);

        // --- settings ---

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern SettingsHandle otc_session_settings_new();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void otc_session_settings_delete(IntPtr settings);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_set_connection_events_suppressed(SettingsHandle settings, int suppressed);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_set_connect_timeout(SettingsHandle settings, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_set_ping_interval(SettingsHandle settings, uint intervalMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_set_reconnection_window(SettingsHandle settings, uint windowMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_set_client_data(SettingsHandle settings, byte[] clientData);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_settings_add_ca_pem(SettingsHandle settings, byte[] pem, UIntPtr pemLength);

        // --- session ---

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern SessionHandle otc_session_new_with_settings(
            byte[] apiKey, byte[] sessionId, ref NativeCallbacks callbacks, SettingsHandle settings);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_connect(SessionHandle session, byte[] token);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_disconnect(SessionHandle session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void otc_session_delete(IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_session_get_id(SessionHandle session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_session_get_connection(SessionHandle session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_get_capabilities(SessionHandle session, out NativeCapabilities capabilities);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_get_roster(SessionHandle session, out IntPtr roster);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern UIntPtr otc_roster_get_count(IntPtr roster);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_roster_get_connection(IntPtr roster, UIntPtr index);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void otc_roster_delete(IntPtr roster);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_send_signal_with_options(
            SessionHandle session, byte[] type, byte[] data, NativeSignalOptions options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_send_signal_to_connection_with_options(
            SessionHandle session, byte[] type, byte[] data, ConnectionHandle connection, NativeSignalOptions options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int otc_session_force_disconnect(SessionHandle session, ConnectionHandle connection);

        // --- connection ---

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern ConnectionHandle otc_connection_copy(IntPtr connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void otc_connection_delete(IntPtr connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_connection_get_id(ConnectionHandle connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_connection_get_data(ConnectionHandle connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_connection_get_client_data(ConnectionHandle connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_connection_get_server_data(ConnectionHandle connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr otc_connection_get_session_id(ConnectionHandle connection);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern long otc_connection_get_creation_time(ConnectionHandle connection);
    }

    /// <summary><c>struct otc_signal_options</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeSignalOptions
    {
        public int retry_after_reconnect;
    }

    /// <summary><c>struct otc_session_capabilities</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeCapabilities
    {
        public int publish;
        public int subscribe;
        public int force_disconnect;
        public int force_unpublish;
    }

    /// <summary>
    /// <c>struct otc_session_callbacks</c>, field for field. <c>size</c> must be <c>sizeof</c> of this struct
    /// (the library reads only that many bytes, which is how the struct grows at its end).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeCallbacks
    {
        public UIntPtr size;
        public IntPtr user_data;
        public IntPtr on_release;
        public IntPtr on_connected;
        public IntPtr on_disconnected;
        public IntPtr on_connection_created;
        public IntPtr on_connection_dropped;
        public IntPtr on_stream_received;
        public IntPtr on_stream_dropped;
        public IntPtr on_signal_received;
        public IntPtr on_reconnection_started;
        public IntPtr on_reconnected;
        public IntPtr on_error;
    }

    /// <summary>Owns an <c>otc_session*</c>; releasing it calls <c>otc_session_delete</c>.</summary>
    internal sealed class SessionHandle : SafeHandle
    {
        private SessionHandle() : base(IntPtr.Zero, true) { }

        /// <inheritdoc/>
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        /// <inheritdoc/>
        protected override bool ReleaseHandle()
        {
            NativeMethods.otc_session_delete(handle);
            return true;
        }
    }

    /// <summary>Owns an <c>otc_session_settings*</c>.</summary>
    internal sealed class SettingsHandle : SafeHandle
    {
        private SettingsHandle() : base(IntPtr.Zero, true) { }

        /// <inheritdoc/>
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        /// <inheritdoc/>
        protected override bool ReleaseHandle()
        {
            NativeMethods.otc_session_settings_delete(handle);
            return true;
        }
    }

    /// <summary>Owns an <c>otc_connection*</c> copy; releasing it calls <c>otc_connection_delete</c>.</summary>
    internal sealed class ConnectionHandle : SafeHandle
    {
        private ConnectionHandle() : base(IntPtr.Zero, true) { }

        /// <inheritdoc/>
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        /// <inheritdoc/>
        protected override bool ReleaseHandle()
        {
            NativeMethods.otc_connection_delete(handle);
            return true;
        }
    }
}
