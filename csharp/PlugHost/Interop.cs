using System;
using System.Runtime.InteropServices;
using System.Text;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// UTF-8 conversions, plughost buffers and status checks. UTF-8 is converted by hand with
    /// Encoding.UTF8 over byte arrays (Marshal.PtrToStringUTF8 does not exist on net48, and
    /// UnmanagedType.LPUTF8Str is unreliable on mono and net48); strings plughost owns are copied,
    /// never marshalled as <c>string</c> (the marshaller would free them).
    /// </summary>
    internal static unsafe class Interop
    {
        internal static readonly byte[] Empty = new byte[0];

        internal static byte[] Utf8(string text)
        {
            return string.IsNullOrEmpty(text) ? Empty : Encoding.UTF8.GetBytes(text);
        }

        internal static string FromUtf8(byte[] bytes)
        {
            return bytes == null ? null : Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Copy <paramref name="length"/> bytes starting at <paramref name="data"/>.</summary>
        internal static byte[] Copy(byte* data, UIntPtr length)
        {
            ulong n = length.ToUInt64();
            if (n == 0 || data == null)
            {
                return new byte[0];
            }
            var bytes = new byte[checked((int)n)];
            Marshal.Copy((IntPtr)data, bytes, 0, bytes.Length);
            return bytes;
        }

        internal static string CopyUtf8(byte* data, UIntPtr length)
        {
            return Encoding.UTF8.GetString(Copy(data, length));
        }

        /// <summary>A static NUL-terminated UTF-8 string of the library: read up to the NUL, copy.</summary>
        internal static string StaticCString(byte* text)
        {
            if (text == null)
            {
                return null;
            }
            int length = 0;
            while (text[length] != 0)
            {
                length++;
            }
            return CopyUtf8(text, (UIntPtr)length);
        }

        /// <summary>The calling thread's last failure message.</summary>
        internal static string LastErrorMessage()
        {
            ulong length = NativeMethods.plughost_last_error_message(null, UIntPtr.Zero).ToUInt64();
            if (length == 0)
            {
                return string.Empty;
            }
            var buffer = new byte[checked((int)length + 1)];
            ulong full;
            fixed (byte* p = buffer)
            {
                full = NativeMethods.plughost_last_error_message(p, (UIntPtr)buffer.Length).ToUInt64();
            }
            int copied = (int)Math.Min(full, (ulong)(buffer.Length - 1));
            return Encoding.UTF8.GetString(buffer, 0, copied);
        }

        /// <summary>
        /// Throw the exception for <paramref name="status"/> unless it is PLUGHOST_OK. Call it on the
        /// same thread right after the call, before any other plughost call, so the message is the
        /// call's own.
        /// </summary>
        internal static void Check(int status)
        {
            if (status != NativeMethods.PLUGHOST_OK)
            {
                throw PlugHostException.FromStatus(status, LastErrorMessage());
            }
        }

        /// <summary>Copy a buffer's bytes and free it (always, also when reading fails).</summary>
        internal static byte[] TakeBuffer(ulong buffer)
        {
            try
            {
                byte* data;
                UIntPtr length;
                Check(NativeMethods.plughost_buffer_data(buffer, &data, &length));
                return Copy(data, length);
            }
            finally
            {
                NativeMethods.plughost_buffer_free(buffer);
            }
        }
    }
}
