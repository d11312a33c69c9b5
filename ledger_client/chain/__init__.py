"""Access to an Ethereum chain over JSON-RPC: the embedded node or any other."""
