"""Fixture builders for telme's tests: tiny random TelME checkpoints and PyTorch references."""
