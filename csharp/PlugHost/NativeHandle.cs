using System;
using System.Runtime.InteropServices;

namespace PlugHost
{
    /// <summary>
    /// A plughost pointer (host or session) as a SafeHandle: a subclass frees it in ReleaseHandle.
    /// Every call holds a reference between <see cref="Enter"/> and <see cref="Exit"/>, so the pointer
    /// cannot be freed while it runs on another thread.
    /// </summary>
    public abstract class NativeHandle : SafeHandle
    {
        internal NativeHandle()
            : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        internal void Set(IntPtr pointer)
        {
            SetHandle(pointer);
        }

        /// <summary>
        /// Take a reference for a call and return the pointer; <paramref name="added"/> says whether
        /// one was taken (pass it to <see cref="Exit"/> in a finally block).
        /// </summary>
        /// <exception cref="ObjectDisposedException">The owner, named <paramref name="owner"/>, is disposed.</exception>
        internal IntPtr Enter(ref bool added, bool ownerDisposed, string owner)
        {
            if (ownerDisposed)
            {
                throw new ObjectDisposedException(owner, "The plughost " + owner + " is disposed.");
            }
            DangerousAddRef(ref added);
            return DangerousGetHandle();
        }

        /// <summary>Give back the reference <see cref="Enter"/> took.</summary>
        internal void Exit(bool added)
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }
}
