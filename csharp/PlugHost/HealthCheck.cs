using System.Collections.Generic;
using System.Linq;

namespace PlugHost
{
    /// <summary>
    /// One health check (plughost_host_health_check, or one entry of plughost_host_health_history):
    /// every component probe's result and the recovery attempts it led to.
    /// </summary>
    public sealed class HealthCheck
    {
        /// <summary>The check's number since the host started (1 = first).</summary>
        public ulong Run { get; private set; }
        /// <summary>When it started, in milliseconds since the Unix epoch.</summary>
        public ulong AtUnixMs { get; private set; }
        /// <summary>How long the probes and the recovery took.</summary>
        public double DurationMs { get; private set; }
        /// <summary>"interval" (the monitor) or "request" (a caller).</summary>
        public string Trigger { get; private set; }
        /// <summary>The worst status of the probes (before recovery).</summary>
        public HealthStatus Status { get; private set; }
        /// <summary>Each probe's result, in registration order.</summary>
        public IList<ProbeHealth> Probes { get; private set; }
        /// <summary>Recovery attempts made in this check.</summary>
        public IList<RecoveryAttempt> Recoveries { get; private set; }
        /// <summary>The parsed check.</summary>
        public JsonValue Json { get; private set; }

        /// <summary>The probe of this component, or null.</summary>
        public ProbeHealth Probe(string component)
        {
            return Probes.FirstOrDefault(p => p.Component == component);
        }

        internal HealthCheck(JsonValue v)
        {
            Json = v;
            Run = v["run"].AsUInt64;
            AtUnixMs = v["at_unix_ms"].AsUInt64;
            DurationMs = v["duration_ms"].AsDouble ?? 0;
            Trigger = v["trigger"].AsString;
            Status = HealthReport.ParseStatus(v["status"].AsString);
            Probes = v["probes"].Items.Select(p => new ProbeHealth(p)).ToList().AsReadOnly();
            Recoveries = v["recoveries"].Items.Select(r => new RecoveryAttempt(r)).ToList().AsReadOnly();
        }

        /// <summary>Parse one check.</summary>
        public static HealthCheck Parse(string json)
        {
            return new HealthCheck(JsonValue.Parse(json));
        }

        /// <summary>Parse a history (a JSON array of checks, oldest first).</summary>
        public static IList<HealthCheck> ParseHistory(string json)
        {
            return JsonValue.Parse(json).Items.Select(c => new HealthCheck(c)).ToList().AsReadOnly();
        }
    }

    /// <summary>What one component's probe found.</summary>
    public sealed class ProbeHealth
    {
        /// <summary>The component (modules, plugins, ipc, watch, storage, events, or a registered one).</summary>
        public string Component { get; private set; }
        /// <summary>Its status.</summary>
        public HealthStatus Status { get; private set; }
        /// <summary>One line: the reasons when not healthy, figures otherwise.</summary>
        public string Detail { get; private set; }
        /// <summary>The targets recovery may repair (a plugin's name, "name#id" of a module).</summary>
        public IList<string> FaultTargets { get; private set; }

        internal ProbeHealth(JsonValue v)
        {
            Component = v["component"].AsString;
            Status = HealthReport.ParseStatus(v["status"].AsString);
            Detail = v["detail"].AsString;
            FaultTargets = v["faults"].Items.Select(f => f["target"].AsString).ToList().AsReadOnly();
        }
    }

    /// <summary>One recovery attempt (or the end of the attempts) of a health check.</summary>
    public sealed class RecoveryAttempt
    {
        /// <summary>The component whose probe reported the fault.</summary>
        public string Component { get; private set; }
        /// <summary>What was repaired.</summary>
        public string Target { get; private set; }
        /// <summary>What was done ("restart", "retry reload", ...).</summary>
        public string Action { get; private set; }
        /// <summary>Which attempt this was (1-based).</summary>
        public ulong Attempt { get; private set; }
        /// <summary>PlugHost.Health.MaxRetryAttempts.</summary>
        public ulong MaxAttempts { get; private set; }
        /// <summary>"succeeded", "failed" or "given_up".</summary>
        public string Outcome { get; private set; }
        /// <summary>What the probe did, or the error.</summary>
        public string Detail { get; private set; }

        internal RecoveryAttempt(JsonValue v)
        {
            Component = v["component"].AsString;
            Target = v["target"].AsString;
            Action = v["action"].AsString;
            Attempt = v["attempt"].AsUInt64;
            MaxAttempts = v["max_attempts"].AsUInt64;
            Outcome = v["outcome"].AsString;
            Detail = v["detail"].AsString;
        }
    }
}
