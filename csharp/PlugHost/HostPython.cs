using System;
using System.Text;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>What came of a Python run.</summary>
    public sealed class PythonResult
    {
        internal PythonResult(JsonValue answer)
        {
            if (answer.Has("result_base64"))
            {
                Bytes = Convert.FromBase64String(answer["result_base64"].AsString);
            }
            else
            {
                Value = answer["result"];
            }
            Stdout = answer["stdout"].AsString;
            Stderr = answer["stderr"].AsString;
            Truncated = answer["truncated"].AsBoolean;
            Worker = (int)answer["worker"].AsUInt64;
            DurationMicroseconds = answer["duration_us"].AsUInt64;
        }

        /// <summary>The value as JSON (the code's last expression, or the function's return value); null when it was bytes.</summary>
        public JsonValue Value { get; private set; }

        /// <summary>The value when it was <c>bytes</c>; otherwise null.</summary>
        public byte[] Bytes { get; private set; }

        /// <summary>What the run wrote to stdout.</summary>
        public string Stdout { get; private set; }

        /// <summary>What the run wrote to stderr.</summary>
        public string Stderr { get; private set; }

        /// <summary>Whether output beyond MaxOutputChars was cut off.</summary>
        public bool Truncated { get; private set; }

        /// <summary>The worker that ran it.</summary>
        public int Worker { get; private set; }

        /// <summary>Time spent in the worker.</summary>
        public ulong DurationMicroseconds { get; private set; }
    }

    /// <summary>
    /// The Python members of <see cref="Host"/>: scripts run in the host's pool of worker
    /// processes (PlugHost.Python), so a runaway script is killed without touching this process.
    /// </summary>
    public sealed unsafe partial class Host
    {
        /// <summary>
        /// Run Python <paramref name="code"/>; its value is that of its last expression.
        /// <paramref name="argsJson"/> (JSON) is the script's global <c>args</c>; <paramref name="session"/>
        /// names globals that persist between runs; <paramref name="timeoutMs"/> 0 means the pool's TimeoutMs.
        /// </summary>
        /// <exception cref="PythonScriptException">The script raised (type, traceback and output attached).</exception>
        /// <exception cref="PlugHostTimeoutException">It ran past its timeout; the worker was killed and is started again.</exception>
        /// <exception cref="PythonPoolSaturatedException">Every worker is busy and the queue is full.</exception>
        /// <exception cref="PythonUnavailableException">Python cannot be used; the message says why.</exception>
        public PythonResult RunPython(string code, string argsJson = null, string session = null, int timeoutMs = 0)
        {
            if (code == null)
            {
                throw new ArgumentNullException("code");
            }
            return RunPythonRequest(Request("\"code\": " + JsonValue.Quote(code), argsJson, null, session, timeoutMs));
        }

        /// <summary>Run the Python file at <paramref name="path"/> (read by the worker); as <see cref="RunPython"/>.</summary>
        public PythonResult RunPythonFile(string path, string argsJson = null, string session = null, int timeoutMs = 0)
        {
            if (path == null)
            {
                throw new ArgumentNullException("path");
            }
            return RunPythonRequest(Request("\"file\": " + JsonValue.Quote(path), argsJson, null, session, timeoutMs));
        }

        /// <summary>
        /// Call <paramref name="function"/> of the importable <paramref name="module"/> with the JSON array
        /// <paramref name="argsJson"/> and JSON object <paramref name="kwargsJson"/>; its return value.
        /// </summary>
        public PythonResult CallPythonFunction(string module, string function, string argsJson = null, string kwargsJson = null, int timeoutMs = 0)
        {
            if (module == null)
            {
                throw new ArgumentNullException("module");
            }
            if (function == null)
            {
                throw new ArgumentNullException("function");
            }
            string source = "\"module\": " + JsonValue.Quote(module) + ", \"function\": " + JsonValue.Quote(function);
            return RunPythonRequest(Request(source, argsJson, kwargsJson, null, timeoutMs));
        }

        /// <summary>Forget the named session's globals; whether it existed.</summary>
        public bool DropPythonSession(string name)
        {
            uint existed = 0;
            ByName(name, (h, p, n) =>
            {
                uint result;
                int status = NativeMethods.plughost_python_drop_session(h, p, n, &result);
                existed = result;
                return status;
            });
            return existed != 0;
        }

        private static string Request(string source, string argsJson, string kwargsJson, string session, int timeoutMs)
        {
            if (timeoutMs < 0)
            {
                throw new ArgumentOutOfRangeException("timeoutMs", "The timeout must not be negative.");
            }
            var request = new StringBuilder("{").Append(source);
            if (argsJson != null)
            {
                request.Append(", \"args\": ").Append(argsJson);
            }
            if (kwargsJson != null)
            {
                request.Append(", \"kwargs\": ").Append(kwargsJson);
            }
            if (session != null)
            {
                request.Append(", \"session\": ").Append(JsonValue.Quote(session));
            }
            if (timeoutMs > 0)
            {
                request.Append(", \"timeout_ms\": ").Append(timeoutMs);
            }
            return request.Append('}').ToString();
        }

        /// <summary>Run a JSON request of plughost_python_run as it is (see the C header) and parse the answer.</summary>
        public PythonResult RunPythonRequest(string requestJson)
        {
            if (requestJson == null)
            {
                throw new ArgumentNullException("requestJson");
            }
            byte[] request = Interop.Utf8(requestJson);
            bool added = false;
            ulong output = 0;
            int status;
            string message;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* p = request)
                {
                    status = NativeMethods.plughost_python_run(h, p, (UIntPtr)request.Length, &output);
                }
                message = status == NativeMethods.PLUGHOST_OK ? null : Interop.LastErrorMessage();
            }
            finally
            {
                Exit(added);
            }
            if (status == NativeMethods.PLUGHOST_ERR_PYTHON_ERROR)
            {
                // The one error that also writes its output: the exception and the output so far.
                JsonValue failed = JsonValue.Parse(Encoding.UTF8.GetString(Interop.TakeBuffer(output)));
                var e = (PythonScriptException)PlugHostException.FromStatus(status, message);
                e.PythonType = failed["error"]["type"].AsString;
                e.PythonTraceback = failed["error"]["traceback"].AsString;
                e.Stdout = failed["stdout"].AsString;
                e.Stderr = failed["stderr"].AsString;
                throw e;
            }
            if (status != NativeMethods.PLUGHOST_OK)
            {
                throw PlugHostException.FromStatus(status, message);
            }
            return new PythonResult(JsonValue.Parse(Encoding.UTF8.GetString(Interop.TakeBuffer(output))));
        }
    }
}
