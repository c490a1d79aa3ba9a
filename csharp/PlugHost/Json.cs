using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace PlugHost
{
    /// <summary>The kind of a <see cref="JsonValue"/>.</summary>
    public enum JsonKind
    {
        Null,
        Boolean,
        Number,
        String,
        Array,
        Object,
    }

    /// <summary>
    /// A parsed JSON value: a small reader for plughost's health document and for settings files
    /// (net48 has no System.Text.Json). Strict RFC 8259 syntax; <see cref="Raw"/> keeps each value's
    /// source text. Missing members read as <see cref="Missing"/> (kind Null), so lookups chain.
    /// </summary>
    public sealed class JsonValue
    {
        /// <summary>What a missing member or index reads as.</summary>
        public static readonly JsonValue Missing = new JsonValue(JsonKind.Null, "null");

        private readonly List<KeyValuePair<string, JsonValue>> members;
        private readonly List<JsonValue> items;

        private JsonValue(JsonKind kind, string raw)
        {
            Kind = kind;
            Raw = raw;
            if (kind == JsonKind.Object)
            {
                members = new List<KeyValuePair<string, JsonValue>>();
            }
            else if (kind == JsonKind.Array)
            {
                items = new List<JsonValue>();
            }
        }

        public JsonKind Kind { get; private set; }

        /// <summary>The value's JSON text as it appeared in the source.</summary>
        public string Raw { get; private set; }

        public bool IsNull
        {
            get { return Kind == JsonKind.Null; }
        }

        private string stringValue;
        private double numberValue;
        private bool boolValue;

        /// <summary>The string, or null if this is not a string.</summary>
        public string AsString
        {
            get { return Kind == JsonKind.String ? stringValue : null; }
        }

        /// <summary>The number, or null if this is not a number.</summary>
        public double? AsDouble
        {
            get { return Kind == JsonKind.Number ? numberValue : (double?)null; }
        }

        /// <summary>The number as an unsigned integer, or 0 if this is not a number.</summary>
        public ulong AsUInt64
        {
            get
            {
                if (Kind != JsonKind.Number)
                {
                    return 0;
                }
                ulong exact;
                return ulong.TryParse(Raw, NumberStyles.None, CultureInfo.InvariantCulture, out exact) ? exact : (ulong)Math.Max(0, numberValue);
            }
        }

        /// <summary>The boolean, or false if this is not a boolean.</summary>
        public bool AsBoolean
        {
            get { return Kind == JsonKind.Boolean && boolValue; }
        }

        /// <summary>The items of an array (empty otherwise).</summary>
        public IList<JsonValue> Items
        {
            get { return items != null ? items.AsReadOnly() : (IList<JsonValue>)new JsonValue[0]; }
        }

        /// <summary>The members of an object in document order (empty otherwise).</summary>
        public IList<KeyValuePair<string, JsonValue>> Members
        {
            get { return members != null ? members.AsReadOnly() : (IList<KeyValuePair<string, JsonValue>>)new KeyValuePair<string, JsonValue>[0]; }
        }

        /// <summary>A member of an object (the last of duplicates), or <see cref="Missing"/>.</summary>
        public JsonValue this[string name]
        {
            get
            {
                if (members != null)
                {
                    for (int i = members.Count - 1; i >= 0; i--)
                    {
                        if (members[i].Key == name)
                        {
                            return members[i].Value;
                        }
                    }
                }
                return Missing;
            }
        }

        /// <summary>An item of an array, or <see cref="Missing"/>.</summary>
        public JsonValue this[int index]
        {
            get { return items != null && index >= 0 && index < items.Count ? items[index] : Missing; }
        }

        public bool Has(string name)
        {
            return !ReferenceEquals(this[name], Missing);
        }

        public override string ToString()
        {
            return Raw;
        }

        /// <summary>Parse a whole document; throws FormatException with the offset on bad syntax.</summary>
        public static JsonValue Parse(string text)
        {
            if (text == null)
            {
                throw new ArgumentNullException("text");
            }
            var parser = new Parser(text);
            parser.SkipSpace();
            JsonValue value = parser.Value(0);
            parser.SkipSpace();
            if (parser.Position != text.Length)
            {
                throw parser.Error("unexpected text after the value");
            }
            return value;
        }

        private sealed class Parser
        {
            private const int MaxDepth = 256;
            private readonly string text;
            internal int Position;

            internal Parser(string text)
            {
                this.text = text;
            }

            internal FormatException Error(string what)
            {
                return new FormatException("invalid JSON at offset " + Position + ": " + what);
            }

            internal void SkipSpace()
            {
                while (Position < text.Length)
                {
                    char c = text[Position];
                    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                    {
                        break;
                    }
                    Position++;
                }
            }

            private char Peek()
            {
                if (Position >= text.Length)
                {
                    throw Error("unexpected end");
                }
                return text[Position];
            }

            private void Expect(string word)
            {
                if (string.CompareOrdinal(text, Position, word, 0, word.Length) != 0)
                {
                    throw Error("expected " + word);
                }
                Position += word.Length;
            }

            // At an object's or array's opening bracket: step over it; true if the container is empty
            // (its closing bracket is then consumed too).
            private bool Open(char close)
            {
                Position++;
                SkipSpace();
                if (Peek() == close)
                {
                    Position++;
                    return true;
                }
                return false;
            }

            // After a member or item: true at the closing bracket, false after a comma (another follows).
            private bool Closes(char close)
            {
                SkipSpace();
                char next = Peek();
                Position++;
                if (next == close)
                {
                    return true;
                }
                if (next != ',')
                {
                    Position--;
                    throw Error("expected ',' or '" + close + "'");
                }
                return false;
            }

            internal JsonValue Value(int depth)
            {
                if (depth > MaxDepth)
                {
                    throw Error("nested too deeply");
                }
                int start = Position;
                char c = Peek();
                JsonValue value;
                switch (c)
                {
                    case '{':
                        value = new JsonValue(JsonKind.Object, null);
                        if (Open('}'))
                        {
                            break;
                        }
                        do
                        {
                            SkipSpace();
                            if (Peek() != '"')
                            {
                                throw Error("expected a member name");
                            }
                            string name = String();
                            SkipSpace();
                            Expect(":");
                            SkipSpace();
                            value.members.Add(new KeyValuePair<string, JsonValue>(name, Value(depth + 1)));
                        }
                        while (!Closes('}'));
                        break;
                    case '[':
                        value = new JsonValue(JsonKind.Array, null);
                        if (Open(']'))
                        {
                            break;
                        }
                        do
                        {
                            SkipSpace();
                            value.items.Add(Value(depth + 1));
                        }
                        while (!Closes(']'));
                        break;
                    case '"':
                        value = new JsonValue(JsonKind.String, null);
                        value.stringValue = String();
                        break;
                    case 't':
                        Expect("true");
                        value = new JsonValue(JsonKind.Boolean, null);
                        value.boolValue = true;
                        break;
                    case 'f':
                        Expect("false");
                        value = new JsonValue(JsonKind.Boolean, null);
                        break;
                    case 'n':
                        Expect("null");
                        value = new JsonValue(JsonKind.Null, null);
                        break;
                    default:
                        value = new JsonValue(JsonKind.Number, null);
                        value.numberValue = Number();
                        break;
                }
                value.Raw = text.Substring(start, Position - start);
                return value;
            }

            private static bool IsDigit(char c)
            {
                return c >= '0' && c <= '9';
            }

            // Step over a run of decimal digits; returns how many there were.
            private int SkipDigits()
            {
                int start = Position;
                while (Position < text.Length && IsDigit(text[Position]))
                {
                    Position++;
                }
                return Position - start;
            }

            private double Number()
            {
                int start = Position;
                if (Position < text.Length && text[Position] == '-')
                {
                    Position++;
                }
                int digits = Position;
                int count = SkipDigits();
                if (count == 0 || (text[digits] == '0' && count > 1))
                {
                    throw Error("invalid number");
                }
                if (Position < text.Length && text[Position] == '.')
                {
                    Position++;
                    if (SkipDigits() == 0)
                    {
                        throw Error("invalid number");
                    }
                }
                if (Position < text.Length && (text[Position] == 'e' || text[Position] == 'E'))
                {
                    Position++;
                    if (Position < text.Length && (text[Position] == '+' || text[Position] == '-'))
                    {
                        Position++;
                    }
                    if (SkipDigits() == 0)
                    {
                        throw Error("invalid number");
                    }
                }
                return double.Parse(text.Substring(start, Position - start), NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            private string String()
            {
                Position++; // the opening quote
                var builder = new StringBuilder();
                while (true)
                {
                    char c = Peek();
                    Position++;
                    if (c == '"')
                    {
                        return builder.ToString();
                    }
                    if (c < 0x20)
                    {
                        Position--;
                        throw Error("control character in a string");
                    }
                    if (c != '\\')
                    {
                        builder.Append(c);
                        continue;
                    }
                    char escape = Peek();
                    Position++;
                    switch (escape)
                    {
                        case '"': builder.Append('"'); break;
                        case '\\': builder.Append('\\'); break;
                        case '/': builder.Append('/'); break;
                        case 'b': builder.Append('\b'); break;
                        case 'f': builder.Append('\f'); break;
                        case 'n': builder.Append('\n'); break;
                        case 'r': builder.Append('\r'); break;
                        case 't': builder.Append('\t'); break;
                        case 'u':
                            if (Position + 4 > text.Length)
                            {
                                throw Error("short \\u escape");
                            }
                            int code;
                            if (!int.TryParse(text.Substring(Position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                            {
                                throw Error("invalid \\u escape");
                            }
                            builder.Append((char)code);
                            Position += 4;
                            break;
                        default:
                            Position--;
                            throw Error("invalid escape");
                    }
                }
            }
        }

        /// <summary>Quote a string as a JSON string literal.</summary>
        public static string Quote(string value)
        {
            var builder = new StringBuilder(value.Length + 2);
            builder.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                        {
                            builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            builder.Append(c);
                        }
                        break;
                }
            }
            return builder.Append('"').ToString();
        }
    }
}
