"""Contract wrappers, typed data, revert decoding and the transaction sender (web3 lives here)."""
