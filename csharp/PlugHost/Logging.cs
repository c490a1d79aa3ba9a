using System;

namespace PlugHost
{
    /// <summary>Log levels (PLUGHOST_LOG_*); a threshold admits its level and the more severe ones.</summary>
    public enum LogLevel : uint
    {
        Off = 0,
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }

    /// <summary>
    /// Receives plughost's log lines. Called on the thread that logged, possibly on several threads
    /// at once: implementations must be thread-safe, quick, and must not call back into plughost
    /// (log lines logged from inside the sink are dropped). Exceptions thrown here are swallowed.
    /// </summary>
    public interface ILogSink
    {
        /// <param name="level">Error to Trace.</param>
        /// <param name="target">Where the line comes from: a plughost component, or a module's name.</param>
        /// <param name="message">The line.</param>
        void Write(LogLevel level, string target, string message);
    }

    /// <summary>An event published on the host's event bus.</summary>
    public sealed class PlugHostEvent
    {
        internal PlugHostEvent(string topic, string source, byte[] payload, ulong sequence)
        {
            Topic = topic;
            Source = source;
            Payload = payload;
            Sequence = sequence;
        }

        public string Topic { get; private set; }

        /// <summary>"host", or the name of the module that published it.</summary>
        public string Source { get; private set; }

        public byte[] Payload { get; private set; }

        /// <summary>Grows with every event of the host.</summary>
        public ulong Sequence { get; private set; }

        /// <summary>The payload decoded as UTF-8.</summary>
        public string PayloadText
        {
            get { return Interop.FromUtf8(Payload); }
        }
    }
}
