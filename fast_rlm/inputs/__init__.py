"""What a run is given, checked and put in the engine's terms: config aliases, provider options,
named agents, providers, output schemas, tools, images, input files, MCP servers, the network grant."""
