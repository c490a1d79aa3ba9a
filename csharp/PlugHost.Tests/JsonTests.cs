using System;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    [TestFixture]
    public class JsonTests
    {
        [Test]
        public void ParsesValuesAndKeepsRawText()
        {
            JsonValue v = JsonValue.Parse(" {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\\"\\u00fc\\n\\ud83d\\ude80\", \"o\": {\"n\": 18446744073709551615}} ");
            Assert.AreEqual(JsonKind.Object, v.Kind);
            Assert.AreEqual(5, v["a"].Items.Count);
            Assert.AreEqual(1.0, v["a"][0].AsDouble);
            Assert.AreEqual(-2500.0, v["a"][1].AsDouble);
            Assert.IsTrue(v["a"][2].AsBoolean);
            Assert.IsTrue(v["a"][4].IsNull);
            Assert.AreEqual("x\"ü\n🚀", v["s"].AsString);
            Assert.AreEqual(ulong.MaxValue, v["o"]["n"].AsUInt64);
            Assert.AreEqual("{\"n\": 18446744073709551615}", v["o"].Raw);
            Assert.IsTrue(v["missing"]["deeper"].IsNull);
            Assert.IsFalse(v.Has("missing"));
            Assert.AreEqual("[]", JsonValue.Parse("[]").Raw);
            Assert.AreEqual("\"a\\\\b\\\"c\\n\"", JsonValue.Quote("a\\b\"c\n"));
            Assert.AreEqual("a\\b\"c\n", JsonValue.Parse(JsonValue.Quote("a\\b\"c\n")).AsString);
        }

        [Test]
        public void RejectsBadSyntax()
        {
            foreach (string bad in new[] { "", "{", "{\"a\" 1}", "[1,]", "01", "1.", "\"x", "{\"a\":1} x", "tru", "[\"\u0001\"]", "\"\\x\"" })
            {
                Assert.Throws<FormatException>(() => JsonValue.Parse(bad), bad);
            }
        }
    }
}
