"""Training: batching, loss, optimiser, sharding, checkpoints and the loop."""
