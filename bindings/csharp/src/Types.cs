using System;

namespace Otc.Session
{
    /// <summary>Why a connection left, or why the own connection ended (<c>enum otc_disconnect_reason</c>).</summary>
    public enum DisconnectReason
    {
        /// <summary>The client called disconnect.</summary>
        ClientDisconnected = 0,
        /// <summary>A moderator forced it out.</summary>
        ForceDisconnectedByModerator = 1,
        /// <summary>The server's REST API forced it out.</summary>
        ForceDisconnectedByServer = 2,
        /// <summary>The server closed the whole session.</summary>
        SessionClosed = 3,
        /// <summary>The network was lost and the reconnection window ran out.</summary>
        NetworkLost = 4,
        /// <summary>The server stopped.</summary>
        ServerStopped = 5,
        /// <summary>A reason the library does not know (it logs the raw string).</summary>
        Unknown = 6,
    }

    /// <summary><c>otc_status</c> codes a caller commonly tests for, numbered as in <c>otc_session.h</c>.</summary>
    public static class StatusCode
    {
        /// <summary>Bad or already used token.</summary>
        public const int AuthorizationFailure = 1004;
        /// <summary>The server could not be reached or the socket failed.</summary>
        public const int ConnectionFailed = 1006;
        /// <summary>The operation needs a connected session.</summary>
        public const int NotConnected = 1010;
        /// <summary>NULL or invalid argument.</summary>
        public const int InvalidParameter = 1011;
        /// <summary>The call is not allowed in the current state.</summary>
        public const int IllegalState = 1015;
        /// <summary>Signal data longer than 8192 bytes.</summary>
        public const int SignalDataTooLong = 1413;
        /// <summary>Signal type longer than 128 characters.</summary>
        public const int SignalTypeTooLong = 1414;
        /// <summary>Signal type with characters outside <c>[A-Za-z0-9-_~.]</c>.</summary>
        public const int InvalidSignalType = 1461;
        /// <summary>Force disconnect without the moderator role, or refused by the server.</summary>
        public const int UnableToForceDisconnect = 1520;
    }

    /// <summary>A call the native library refused; <see cref="Code"/> is the <c>otc_status</c>.</summary>
    public sealed class OtcException : Exception
    {
        /// <summary>The <c>otc_status</c> value.</summary>
        public int Code { get; private set; }

        /// <summary>Creates the exception for a status and its description.</summary>
        public OtcException(int code, string message) : base(message + " (" + code + ")")
        {
            Code = code;
        }

        /// <summary>Throws for a non-zero status, with the library's own description.</summary>
        internal static void Check(int status)
        {
            if (status != Interop.NativeMethods.OTC_SUCCESS)
            {
                throw new OtcException(status, Interop.Utf8.FromNative(Interop.NativeMethods.otc_status_str(status)));
            }
        }
    }

    /// <summary>What the own connection's role allows (<c>struct otc_session_capabilities</c>).</summary>
    public struct Capabilities
    {
        /// <summary>May publish streams.</summary>
        public bool Publish;
        /// <summary>May subscribe to streams.</summary>
        public bool Subscribe;
        /// <summary>May force other clients out (MODERATOR).</summary>
        public bool ForceDisconnect;
        /// <summary>May force streams to unpublish (MODERATOR).</summary>
        public bool ForceUnpublish;
    }

    /// <summary>Arguments of <see cref="Session.Disconnected"/>.</summary>
    public sealed class DisconnectedEventArgs : EventArgs
    {
        /// <summary>Why the own connection ended.</summary>
        public DisconnectReason Reason { get; private set; }
        internal DisconnectedEventArgs(DisconnectReason reason) { Reason = reason; }
    }

    /// <summary>Arguments of <see cref="Session.ConnectionCreated"/>.</summary>
    public sealed class ConnectionEventArgs : EventArgs
    {
        /// <summary>The client that is in the session.</summary>
        public Connection Connection { get; private set; }
        internal ConnectionEventArgs(Connection connection) { Connection = connection; }
    }

    /// <summary>Arguments of <see cref="Session.ConnectionDropped"/>.</summary>
    public sealed class ConnectionDroppedEventArgs : EventArgs
    {
        /// <summary>The client that left.</summary>
        public Connection Connection { get; private set; }
        /// <summary>Why it left.</summary>
        public DisconnectReason Reason { get; private set; }
        internal ConnectionDroppedEventArgs(Connection connection, DisconnectReason reason)
        {
            Connection = connection;
            Reason = reason;
        }
    }

    /// <summary>Arguments of <see cref="Session.Signal"/>.</summary>
    public sealed class SignalEventArgs : EventArgs
    {
        /// <summary>The signal type (no <c>signal:</c> prefix; may be empty).</summary>
        public string Type { get; private set; }
        /// <summary>The signal data.</summary>
        public string Data { get; private set; }
        /// <summary>The sender, or null when the server sent it.</summary>
        public Connection From { get; private set; }
        internal SignalEventArgs(string type, string data, Connection from)
        {
            Type = type;
            Data = data;
            From = from;
        }
    }

    /// <summary>Arguments of <see cref="Session.Error"/>: an asynchronous failure.</summary>
    public sealed class SessionErrorEventArgs : EventArgs
    {
        /// <summary>The <c>otc_status</c> code.</summary>
        public int Code { get; private set; }
        /// <summary>The library's description.</summary>
        public string Message { get; private set; }
        internal SessionErrorEventArgs(int code, string message)
        {
            Code = code;
            Message = message;
        }
    }
}
