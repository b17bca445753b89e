using System;
using System.IO;
using System.Text;
using System.Text.Json;

namespace PrecomputedTools.Engine;

/// <summary>
/// The engine's one way to produce JSON text: a System.Text.Json writer, never string building, so
/// every name and value is escaped and every number is written the same way.
/// </summary>
public static class EngineJson
{
    /// <summary>The UTF-8 bytes <paramref name="write"/> produces (two-space indentation when <paramref name="indented"/>).</summary>
    public static byte[] ToUtf8(Action<Utf8JsonWriter> write, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            write(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>The text <paramref name="write"/> produces, ending with a newline when indented (as files are).</summary>
    public static string ToText(Action<Utf8JsonWriter> write, bool indented = true)
    {
        string text = Encoding.UTF8.GetString(ToUtf8(write, indented));
        return indented ? text + "\n" : text;
    }

    /// <summary>Writes x, y, z as a JSON array.</summary>
    public static void WriteInt3(Utf8JsonWriter writer, string name, Int3 value)
    {
        writer.WriteStartArray(name);
        writer.WriteNumberValue(value.X);
        writer.WriteNumberValue(value.Y);
        writer.WriteNumberValue(value.Z);
        writer.WriteEndArray();
    }
}
