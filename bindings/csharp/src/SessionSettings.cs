using System;
using System.Threading;
using Otc.Session.Interop;

namespace Otc.Session
{
    /// <summary>
    /// Settings of a new <see cref="Session"/> (<c>otc_session_settings</c>). Unset (null) values keep the
    /// library's defaults.
    /// </summary>
    public sealed class SessionSettings
    {
        /// <summary>When true, <see cref="Session.ConnectionCreated"/> and <see cref="Session.ConnectionDropped"/> never fire.</summary>
        public bool? ConnectionEventsSuppressed { get; set; }
        /// <summary>How long a connect attempt may take before it fails.</summary>
        public TimeSpan? ConnectTimeout { get; set; }
        /// <summary>Interval between keepalive pings.</summary>
        public TimeSpan? PingInterval { get; set; }
        /// <summary>How long to keep trying to resume after a network loss.</summary>
        public TimeSpan? ReconnectionWindow { get; set; }
        /// <summary>The client metadata other clients see as <see cref="Connection.ClientData"/>.</summary>
        public string ClientData { get; set; }
        /// <summary>Extra trusted CA certificates (PEM) for <c>wss://</c> servers.</summary>
        public string TrustedCaPem { get; set; }
        /// <summary>
        /// Where events are raised: posted to this context when set (e.g. a UI thread's), else raised directly on
        /// the library's dispatcher thread.
        /// </summary>
        public SynchronizationContext SynchronizationContext { get; set; }

        /// <summary>Builds the native settings object; throws <see cref="OtcException"/> for a refused value.</summary>
        internal SettingsHandle ToNative()
        {
            SettingsHandle settings = NativeMethods.otc_session_settings_new();
            if (settings.IsInvalid) throw new OtcException(StatusCode.InvalidParameter, "otc_session_settings_new failed");
            try
            {
                if (ConnectionEventsSuppressed.HasValue)
                {
                    OtcException.Check(NativeMethods.otc_session_settings_set_connection_events_suppressed(
                        settings, ConnectionEventsSuppressed.Value ? NativeMethods.OTC_TRUE : NativeMethods.OTC_FALSE));
                }
                if (ConnectTimeout.HasValue)
                {
                    OtcException.Check(NativeMethods.otc_session_settings_set_connect_timeout(
                        settings, Millis(ConnectTimeout.Value, "ConnectTimeout")));
                }
                if (PingInterval.HasValue)
                {
                    OtcException.Check(NativeMethods.otc_session_settings_set_ping_interval(
                        settings, Millis(PingInterval.Value, "PingInterval")));
                }
                if (ReconnectionWindow.HasValue)
                {
                    OtcException.Check(NativeMethods.otc_session_settings_set_reconnection_window(
                        settings, Millis(ReconnectionWindow.Value, "ReconnectionWindow")));
                }
                if (ClientData != null)
                {
                    OtcException.Check(NativeMethods.otc_session_settings_set_client_data(
                        settings, Utf8.ToNative(ClientData, "ClientData")));
                }
                if (TrustedCaPem != null)
                {
                    byte[] pem = Utf8.ToNative(TrustedCaPem, "TrustedCaPem");
                    OtcException.Check(NativeMethods.otc_session_settings_add_ca_pem(
                        settings, pem, new UIntPtr((uint)(pem.Length - 1))));
                }
                return settings;
            }
            catch
            {
                settings.Dispose();
                throw;
            }
        }

        private static uint Millis(TimeSpan span, string what)
        {
            double ms = span.TotalMilliseconds;
            if (ms < 0 || ms > uint.MaxValue) throw new ArgumentOutOfRangeException(what, span, what + " must be 0 .. 2^32-1 ms");
            return (uint)ms;
        }
    }
}
