using System;

namespace Otc.Session.Interop
{
    /// <summary>
    /// Marks a static method that native code calls through a function pointer. Ahead-of-time compilers
    /// (Unity IL2CPP, Xamarin/Mono on iOS) look for an attribute of exactly this name to generate the
    /// reverse-P/Invoke wrapper; on .NET and JIT Mono it is only documentation.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        /// <summary>The delegate type the native side calls the method as.</summary>
        public Type DelegateType { get; private set; }

        /// <summary>Declares the delegate type of the callback.</summary>
        public MonoPInvokeCallbackAttribute(Type delegateType)
        {
            DelegateType = delegateType;
        }
    }
}
