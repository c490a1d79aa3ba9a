using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("PlugHost.Tests")]
