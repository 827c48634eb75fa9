"""telme against PyTorch: timings and memory."""
