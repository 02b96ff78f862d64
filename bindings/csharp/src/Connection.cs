using System;
using Otc.Session.Interop;

namespace Otc.Session
{
    /// <summary>
    /// A client in the session. Owns a native copy (<c>otc_connection_copy</c>) so it can be kept and passed to
    /// <see cref="Session.SendSignal"/> or <see cref="Session.ForceDisconnect"/>; the copy is freed with this
    /// object (its <see cref="System.Runtime.InteropServices.SafeHandle"/>). Fields are read once, at creation.
    /// </summary>
    public sealed class Connection
    {
        internal ConnectionHandle Handle { get; private set; }

        /// <summary>The connection id (<c>con_...</c>).</summary>
        public string ConnectionId { get; private set; }
        /// <summary>The full metadata string as the server sent it.</summary>
        public string Data { get; private set; }
        /// <summary>The part of <see cref="Data"/> the client set when joining.</summary>
        public string ClientData { get; private set; }
        /// <summary>The part of <see cref="Data"/> the server set when it created the token.</summary>
        public string ServerData { get; private set; }
        /// <summary>The id of the session this connection belongs to.</summary>
        public string SessionId { get; private set; }
        /// <summary>Creation time (UTC).</summary>
        public DateTimeOffset CreationTime { get; private set; }

        private Connection(ConnectionHandle handle)
        {
            Handle = handle;
            ConnectionId = Utf8.FromNative(NativeMethods.otc_connection_get_id(handle)) ?? "";
            Data = Utf8.FromNative(NativeMethods.otc_connection_get_data(handle)) ?? "";
            ClientData = Utf8.FromNative(NativeMethods.otc_connection_get_client_data(handle)) ?? "";
            ServerData = Utf8.FromNative(NativeMethods.otc_connection_get_server_data(handle)) ?? "";
            SessionId = Utf8.FromNative(NativeMethods.otc_connection_get_session_id(handle)) ?? "";
            long ms = NativeMethods.otc_connection_get_creation_time(handle);
            CreationTime = new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMilliseconds(ms);
        }

        /// <summary>Copies a borrowed <c>const otc_connection*</c>; NULL gives null.</summary>
        internal static Connection CopyOf(IntPtr borrowed)
        {
            if (borrowed == IntPtr.Zero) return null;
            ConnectionHandle handle = NativeMethods.otc_connection_copy(borrowed);
            if (handle.IsInvalid) return null;
            return new Connection(handle);
        }

        /// <inheritdoc/>
        public override bool Equals(object obj)
        {
            Connection other = obj as Connection;
            return other != null && other.ConnectionId == ConnectionId;
        }

        /// <inheritdoc/>
        public override int GetHashCode() { return ConnectionId.GetHashCode(); }

        /// <inheritdoc/>
        public override string ToString() { return "Connection(" + ConnectionId + ", data=" + Data + ")"; }
    }
}
