"""The STDFormer network: front-ends, SD/TD, fusion, transformer, heads, checkpoints."""
