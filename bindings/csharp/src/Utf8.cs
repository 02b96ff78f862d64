using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Otc.Session.Interop
{
    /// <summary>
    /// UTF-8 C strings in both directions, independent of the runtime's default string marshalling
    /// (ANSI on .NET Framework for Windows, UTF-8 on Mono for Unix).
    /// </summary>
    internal static class Utf8
    {
        /// <summary>Encodes <paramref name="s"/> NUL-terminated; null stays null. A NUL inside is refused.</summary>
        public static byte[] ToNative(string s, string what)
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0) throw new ArgumentException(what + " must not contain NUL characters", what);
            byte[] encoded = Encoding.UTF8.GetBytes(s);
            byte[] withNul = new byte[encoded.Length + 1];
            Buffer.BlockCopy(encoded, 0, withNul, 0, encoded.Length);
            return withNul;
        }

        /// <summary>Copies a NUL-terminated UTF-8 string out of native memory; NULL gives null.</summary>
        public static string FromNative(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int length = 0;
            while (Marshal.ReadByte(p, length) != 0) length++;
            byte[] bytes = new byte[length];
            Marshal.Copy(p, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
