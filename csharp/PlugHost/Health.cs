using System.Collections.Generic;
using System.Linq;

namespace PlugHost
{
    /// <summary>The overall health status.</summary>
    public enum HealthStatus
    {
        Unknown,
        Healthy,
        Degraded,
        Unhealthy,
    }

    /// <summary>
    /// The host's health report (plughost_host_health) as objects, with the document itself in
    /// <see cref="RawJson"/> for anything not mapped here.
    /// </summary>
    public sealed class HealthReport
    {
        public HealthStatus Status { get; private set; }
        public IList<string> Reasons { get; private set; }
        public string Version { get; private set; }
        public uint AbiVersion { get; private set; }
        /// <summary>The configuration profile (PlugHost.Profile), or null.</summary>
        public string Profile { get; private set; }
        /// <summary>The latest health check, or null before the first.</summary>
        public HealthCheck LastCheck { get; private set; }
        public double UptimeSeconds { get; private set; }
        public IList<string> Components { get; private set; }
        public ProcessHealth Process { get; private set; }
        public IList<ModuleHealth> Modules { get; private set; }
        public IList<RetainedGeneration> RetainedGenerations { get; private set; }
        public ulong MaxRetainedGenerations { get; private set; }
        public IList<ServiceHealth> Services { get; private set; }
        public ulong MainThreadPending { get; private set; }
        public ulong StorageKeys { get; private set; }
        public ulong StorageBytes { get; private set; }
        public ulong StorageMaxBytes { get; private set; }
        public ulong EventSubscriptions { get; private set; }
        public ulong EventTopics { get; private set; }
        public bool TrustedRootsRestricted { get; private set; }
        public IList<string> TrustedRoots { get; private set; }

        /// <summary>The JSON document as plughost wrote it.</summary>
        public string RawJson { get; private set; }

        /// <summary>The parsed document.</summary>
        public JsonValue Json { get; private set; }

        /// <summary>The module with this name, or null.</summary>
        public ModuleHealth Module(string name)
        {
            return Modules.FirstOrDefault(m => m.Name == name);
        }

        /// <summary>Parse a health document.</summary>
        public static HealthReport Parse(string json)
        {
            JsonValue v = JsonValue.Parse(json);
            var report = new HealthReport
            {
                RawJson = json,
                Json = v,
                Status = ParseStatus(v["status"].AsString),
                Reasons = Strings(v["reasons"]),
                Version = v["version"].AsString,
                AbiVersion = (uint)v["abi_version"].AsUInt64,
                Profile = v["profile"].IsNull ? null : v["profile"].AsString,
                LastCheck = v["last_check"].IsNull ? null : new HealthCheck(v["last_check"]),
                UptimeSeconds = v["uptime_seconds"].AsDouble ?? 0,
                Components = Strings(v["components"]),
                Process = new ProcessHealth(v["process"]),
                Modules = v["modules"].Items.Select(m => new ModuleHealth(m)).ToList().AsReadOnly(),
                RetainedGenerations = v["retained_generations"].Items.Select(r => new RetainedGeneration(r)).ToList().AsReadOnly(),
                MaxRetainedGenerations = v["max_retained_generations"].AsUInt64,
                Services = v["services"].Items.Select(s => new ServiceHealth(s)).ToList().AsReadOnly(),
                MainThreadPending = v["main_thread_pending"].AsUInt64,
                StorageKeys = v["storage"]["keys"].AsUInt64,
                StorageBytes = v["storage"]["bytes"].AsUInt64,
                StorageMaxBytes = v["storage"]["max_bytes"].AsUInt64,
                EventSubscriptions = v["events"]["subscriptions"].AsUInt64,
                EventTopics = v["events"]["topics"].AsUInt64,
                TrustedRootsRestricted = v["trusted_roots"]["restricted"].AsBoolean,
                TrustedRoots = Strings(v["trusted_roots"]["roots"]),
            };
            return report;
        }

        internal static HealthStatus ParseStatus(string status)
        {
            switch (status)
            {
                case "healthy": return HealthStatus.Healthy;
                case "degraded": return HealthStatus.Degraded;
                case "unhealthy": return HealthStatus.Unhealthy;
                default: return HealthStatus.Unknown;
            }
        }

        internal static IList<string> Strings(JsonValue array)
        {
            return array.Items.Select(i => i.AsString).ToList().AsReadOnly();
        }
    }

    /// <summary>Process figures; null where the platform does not report one.</summary>
    public sealed class ProcessHealth
    {
        internal ProcessHealth(JsonValue v)
        {
            RssBytes = Optional(v["rss_bytes"]);
            Threads = Optional(v["threads"]);
            OpenFds = Optional(v["open_fds"]);
            Mappings = Optional(v["mappings"]);
        }

        public ulong? RssBytes { get; private set; }
        public ulong? Threads { get; private set; }
        public ulong? OpenFds { get; private set; }
        public ulong? Mappings { get; private set; }

        internal static ulong? Optional(JsonValue v)
        {
            return v.Kind == JsonKind.Number ? v.AsUInt64 : (ulong?)null;
        }
    }

    /// <summary>One loaded module.</summary>
    public sealed class ModuleHealth
    {
        internal ModuleHealth(JsonValue v)
        {
            Id = v["id"].AsUInt64;
            Name = v["name"].AsString;
            Version = v["version"].AsString;
            Generation = v["generation"].AsUInt64;
            State = v["state"].AsString;
            Source = v["source"].AsString;
            ShadowDirectory = v["shadow_dir"].AsString;
            InFlight = v["in_flight"].AsUInt64;
            Loads = v["loads"].AsUInt64;
            Reloads = v["reloads"].AsUInt64;
            ReloadFailures = v["reload_failures"].AsUInt64;
            Unloads = v["unloads"].AsUInt64;
            ExecuteFailures = v["execute_failures"].AsUInt64;
            LastLoadMs = v["last"]["load_ms"].AsDouble;
            LastReloadMs = v["last"]["reload_ms"].AsDouble;
            LastUnloadMs = v["last"]["unload_ms"].AsDouble;
            Commands = v["commands"].Items.Select(c => new CommandHealth(c)).ToList().AsReadOnly();
        }

        public ulong Id { get; private set; }
        public string Name { get; private set; }
        public string Version { get; private set; }
        public ulong Generation { get; private set; }
        /// <summary>"serving", or "swapping" while a reload hands state over.</summary>
        public string State { get; private set; }
        public string Source { get; private set; }
        public string ShadowDirectory { get; private set; }
        public ulong InFlight { get; private set; }
        public ulong Loads { get; private set; }
        public ulong Reloads { get; private set; }
        public ulong ReloadFailures { get; private set; }
        public ulong Unloads { get; private set; }
        public ulong ExecuteFailures { get; private set; }
        public double? LastLoadMs { get; private set; }
        public double? LastReloadMs { get; private set; }
        public double? LastUnloadMs { get; private set; }
        public IList<CommandHealth> Commands { get; private set; }

        /// <summary>The figures of one command, or null.</summary>
        public CommandHealth Command(string command)
        {
            return Commands.FirstOrDefault(c => c.Command == command);
        }
    }

    /// <summary>Calls, failures and latency percentiles of one command.</summary>
    public sealed class CommandHealth
    {
        internal CommandHealth(JsonValue v)
        {
            Command = v["command"].AsString;
            Calls = v["calls"].AsUInt64;
            Failures = v["failures"].AsUInt64;
            P50Microseconds = v["p50_us"].AsDouble;
            P90Microseconds = v["p90_us"].AsDouble;
            P99Microseconds = v["p99_us"].AsDouble;
        }

        public string Command { get; private set; }
        public ulong Calls { get; private set; }
        public ulong Failures { get; private set; }
        public double? P50Microseconds { get; private set; }
        public double? P90Microseconds { get; private set; }
        public double? P99Microseconds { get; private set; }
    }

    /// <summary>An old generation still loaded: "draining" (calls in flight) or "pinned" (still mapped).</summary>
    public sealed class RetainedGeneration
    {
        internal RetainedGeneration(JsonValue v)
        {
            Name = v["name"].AsString;
            Version = v["version"].AsString;
            Generation = v["generation"].AsUInt64;
            Reason = v["reason"].AsString;
            InFlight = v["in_flight"].AsUInt64;
            ShadowDirectory = v["shadow_dir"].AsString;
            Seconds = v["seconds"].AsDouble ?? 0;
        }

        public string Name { get; private set; }
        public string Version { get; private set; }
        public ulong Generation { get; private set; }
        public string Reason { get; private set; }
        public ulong InFlight { get; private set; }
        public string ShadowDirectory { get; private set; }
        public double Seconds { get; private set; }
    }

    /// <summary>A registered service.</summary>
    public sealed class ServiceHealth
    {
        internal ServiceHealth(JsonValue v)
        {
            Name = v["name"].AsString;
            MainThread = v["main_thread"].AsBoolean;
            Calls = v["calls"].AsUInt64;
            Failures = v["failures"].AsUInt64;
        }

        public string Name { get; private set; }
        public bool MainThread { get; private set; }
        public ulong Calls { get; private set; }
        public ulong Failures { get; private set; }
    }
}
